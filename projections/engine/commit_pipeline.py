"""Committing one batch while the next is prepared.

A batch's commit mostly waits for PostgreSQL (inserting the rows, the tracking update, the
commit), and decoding and handling the next batch needs only Python: done at the same time,
the projector's one process does both. Commits stay one at a time and in order (each
checks the tracking position the previous one left), so exactly-once and the poison rules
of :class:`~projections.engine.batch_processor.BatchProcessor` are unchanged; at most one
batch is prepared ahead, and a batch prepared before a refusal or a failed commit is
dropped, never applied.

A batch none of whose events the projector handles (most batches of a projector that does
not follow runs) changes no row: it only moves the tracking position. It is not committed on
its own but with the next batch that changes rows, or once it has waited `linger` seconds
(decision 0038): one commit instead of one per wake-up. A query waiting for such a position
(`?after=`) waits at most that much longer; a crash before the commit only reads those
events again. A worker that hears the queries waiting (decision 0054) lets such a batch wait
longer and `hurry`s it when one waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from projections.engine.batch_processor import BatchProcessor, Prepared, Refused

# Seconds a batch that only moves the tracking position may wait for company.
LINGER_S = 0.1


def _moves_only_tracking(prepared: Prepared) -> bool:
    return not prepared.spans and prepared.poison is None and prepared.end is not None


class CommitPipeline:
    def __init__(
        self,
        processor: BatchProcessor,
        linger: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.processor = processor
        self.linger = linger
        self.clock = clock
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="cairn-projection-commit")
        self._in_flight: Future[Refused | None] | None = None
        # The latest batch that only moves the tracking position, not committed yet, since
        # when such a batch waits, and when a waiting query wants it (`hurry`).
        self._waiting: Prepared | None = None
        self._since = 0.0
        self._wanted_by = float("inf")

    def submit(self, prepared: Prepared) -> Refused | None:
        """Wait for the batch in flight, then start committing `prepared`. Returns the
        previous batch's Refused (then `prepared`, made without knowing, is dropped) and
        raises its error. A batch that only moves the tracking position may wait (`linger`);
        a later batch's commit covers its position."""
        if self.linger > 0 and _moves_only_tracking(prepared):
            if self._waiting is None:
                self._since, self._wanted_by = self.clock(), float("inf")
            self._waiting = prepared
            return self.tick()
        self._waiting = None
        return self._start(prepared)

    def hurry(self, wanted: int) -> None:
        """A query waits for position `wanted`: the waiting batch is due at once if it reaches
        it, else once it has waited `LINGER_S` (as when nobody listened)."""
        waiting = self._waiting
        if waiting is None or waiting.end is None:
            return
        soon = self.clock() if waiting.end >= wanted else self._since + LINGER_S
        self._wanted_by = min(self._wanted_by, soon)

    @property
    def lingering(self) -> bool:
        """A batch that only moves the tracking position waits."""
        return self._waiting is not None

    @property
    def wake_for(self) -> frozenset[str] | None:
        """The topics of the pages worth waking for (decision 0059): while such a batch
        waits, those the projector handles (the others join it when it is due or a query
        hurries it, at the latest); otherwise any (None), so that one starts waiting."""
        return self.processor.projector.topics if self._waiting is not None else None

    def _due(self) -> float:
        return min(self._since + self.linger, self._wanted_by)

    def tick(self) -> Refused | None:
        """Nothing new arrived: commit the waiting batch if it is due; else like `drain`."""
        waiting = self._waiting
        if waiting is not None and self.clock() >= self._due():
            self._waiting = None
            return self._start(waiting)
        return self.drain()

    def flush(self) -> Refused | None:
        """Commit the waiting batch now, and wait for it (a clean stop)."""
        waiting, self._waiting = self._waiting, None
        refused = self._start(waiting) if waiting is not None else None
        return refused or self.drain()

    def wait_s(self, longest: float) -> float:
        """How long the caller may wait for new batches before calling `tick`."""
        if self._waiting is None:
            return longest
        return max(0.0, min(longest, self._due() - self.clock()))

    def _start(self, prepared: Prepared) -> Refused | None:
        refused = self.drain()
        if refused is not None:
            return refused  # `prepared` was made without knowing: dropped
        self._in_flight = self._committer.submit(self.processor.apply, prepared)
        return None

    def drain(self) -> Refused | None:
        """Wait for the batch in flight: its outcome (or error)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return None
        try:
            refused = in_flight.result()
        except BaseException:
            self._waiting = None  # prepared before the failure: the caller starts again
            raise
        if refused is not None:
            self._waiting = None
        return refused

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
