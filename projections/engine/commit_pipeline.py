"""Committing one batch while the next is prepared.

A batch's commit mostly waits for PostgreSQL (inserting the rows, the tracking update, the
commit), and decoding and handling the next batch needs only Python: done at the same time,
the projector's one process does both. Commits stay one at a time and in order (each
checks the tracking position the previous one left), so exactly-once and the poison rules
of :class:`~projections.engine.batch_processor.BatchProcessor` are unchanged; at most one
batch is prepared ahead, and a batch prepared before a refusal or a failed commit is
dropped, never applied.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from projections.engine.batch_processor import BatchProcessor, Prepared, Refused


class CommitPipeline:
    def __init__(self, processor: BatchProcessor) -> None:
        self.processor = processor
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="cairn-projection-commit")
        self._in_flight: Future[Refused | None] | None = None

    def submit(self, prepared: Prepared) -> Refused | None:
        """Wait for the batch in flight, then start committing `prepared`. Returns the
        previous batch's Refused (then `prepared`, made without knowing, is dropped) and
        raises its error."""
        refused = self.drain()
        if refused is not None:
            return refused
        self._in_flight = self._committer.submit(self.processor.apply, prepared)
        return None

    def drain(self) -> Refused | None:
        """Wait for the batch in flight: its outcome (or error)."""
        in_flight, self._in_flight = self._in_flight, None
        return in_flight.result() if in_flight is not None else None

    @property
    def busy(self) -> bool:
        """A batch is being committed."""
        return self._in_flight is not None

    def close(self) -> None:
        """Finish the commit in flight (its error is dropped here: the tracking position
        shows what was committed), then stop the committer."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.exception()
        self._committer.shutdown(wait=True)
