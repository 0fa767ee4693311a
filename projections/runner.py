"""Applying batches of events to one generation's views, exactly once, with poison handling.

One batch = one transaction: the statements of every event in it plus the tracking position
of its last notification (including notifications the projector does not handle, so a
`?after=` wait for any position ends). A crash at any point leaves either the whole batch or
nothing, and the next run continues from the recorded position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification

from projections import deadletters
from projections.projector import OnError, Projector, Writes
from projections.views import ViewRecorder, is_poison

logger = logging.getLogger("cairn.projections")


@dataclass(frozen=True)
class Stopped:
    """The projector stopped at a poison event (parked), as its setting says."""

    position: int
    error: str


@dataclass(frozen=True)
class Prepared:
    """A batch decoded and handled, not yet committed."""

    writes: Writes
    spans: list[tuple[Notification, int, int]]  # handled events and their statements
    end: int | None  # the position it commits up to (None: nothing before a poison event)
    poison: tuple[Notification, BaseException] | None  # stop mode: the event that failed


def prepare(
    projector: Projector,
    decode: Callable[[Notification], Any],
    on_error: OnError,
    batch: Sequence[Notification],
) -> Prepared:
    """Decode and handle a batch: its statements, nothing written yet. A handler failure in
    stop mode ends the batch before that event; in skip mode the event is parked in it."""
    topics = projector.topics
    writes = Writes()
    spans: list[tuple[Notification, int, int]] = []
    end: int | None = None  # the position this batch commits up to
    for n in batch:
        if n.topic in topics:
            start = len(writes)
            try:
                projector.handle(n.topic, decode(n), n.id, writes)
            except Exception as error:  # any handler failure is poison
                writes.truncate(start)
                logger.error("projector %s: poison event at %d: %r", projector.name, n.id, error)
                if on_error == "stop":
                    return Prepared(writes, spans, end, (n, error))
                deadletters.park_into(writes, projector.name, projector.generation, n, error)
            spans.append((n, start, len(writes)))
        end = n.id
    return Prepared(writes, spans, end, None)


class BatchProcessor:
    def __init__(
        self,
        projector: Projector,
        decode: Callable[[Notification], Any],
        views: ViewRecorder,
        on_error: OnError,
        position: int,
    ) -> None:
        self.projector = projector
        self.decode = decode
        self.views = views
        self.on_error = on_error
        self.position = position  # the last position committed

    def _commit(self, writes: Writes, position: int | None) -> None:
        target = position if position is not None else self.position
        self.views.commit(writes, self.projector.tracking_name, self.position, target)
        self.position = target

    def process(self, batch: Sequence[Notification]) -> Stopped | None:
        """Prepare and apply one batch."""
        return self.apply(self.prepare(batch))

    def prepare(self, batch: Sequence[Notification]) -> Prepared:
        """Decode and handle the batch: its statements, nothing written yet."""
        return prepare(self.projector, self.decode, self.on_error, batch)

    def apply(self, prepared: Prepared) -> Stopped | None:
        """Commit a prepared batch after the previous one (one transaction with the tracking
        position); the Stopped of a poison event in stop mode."""
        if prepared.end is not None:
            stopped = self._commit_batch(prepared.writes, prepared.spans, prepared.end)
            if stopped is not None:
                return stopped
        if prepared.poison is not None:
            return self._stop(*prepared.poison)
        return None

    def apply_whole(self, writes: Writes, end: int) -> bool:
        """Commit a batch prepared elsewhere, which cannot be split per event: False if the
        database refused it (nothing was written; the caller prepares it again here)."""
        try:
            self._commit(writes, end)
        except Exception as error:
            if not is_poison(error):
                raise
            logger.warning("projector %s: batch refused (%s)", self.projector.name, error)
            return False
        return True

    def _park(self, writes: Writes, n: Notification, error: BaseException) -> None:
        deadletters.park_into(writes, self.projector.name, self.projector.generation, n, error)

    def _stop(self, n: Notification, error: BaseException) -> Stopped:
        """Stop mode: record the dead letter; the tracking stays before the event."""
        writes = Writes()
        self._park(writes, n, error)
        self._commit(writes, None)
        return Stopped(n.id, deadletters.describe(error)[0])

    def _commit_batch(
        self, writes: Writes, spans: list[tuple[Notification, int, int]], end: int
    ) -> Stopped | None:
        try:
            self._commit(writes, end)
            return None
        except Exception as error:
            if not is_poison(error):
                raise
            logger.warning(
                "projector %s: batch refused (%s); one by one", self.projector.name, error
            )
        # The database refused the batch: find the event it refused, each event in its own
        # transaction with its own position.
        for n, start, stop in spans:
            single = Writes()
            single.statements = writes.statements[start:stop]
            try:
                self._commit(single, n.id)
            except Exception as error:
                if not is_poison(error):
                    raise
                logger.error(
                    "projector %s: poison event at %d: %r", self.projector.name, n.id, error
                )
                if self.on_error == "stop":
                    return self._stop(n, error)
                parked = Writes()
                self._park(parked, n, error)
                self._commit(parked, n.id)
        if end > self.position:
            self._commit(Writes(), end)
        return None
