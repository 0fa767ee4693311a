"""Applying batches of events to one generation's views, exactly once, with poison handling.

One batch = one transaction: the statements of every event in it plus the tracking position
of its last notification (including notifications the projector does not handle, so a
`?after=` wait for any position ends). A crash at any point leaves either the whole batch or
nothing, and the next run continues from the recorded position.

A poison event (its handler raised, or the database refused its rows) is parked. In skip mode
that is all; in stop mode its aggregate is held as well: the aggregate's later events are
recorded behind it instead of applied, and everything else goes on (decision 0011).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification

from adapters.telemetry.projections import projecting
from projections.engine import dead_letters
from projections.engine.projector_base import OnError, Projector, Writes
from projections.engine.view_recorder import HoldCheck, ViewRecorder, is_poison

logger = logging.getLogger("cairn.projections")


@dataclass(frozen=True)
class Refused:
    """Stop mode: the database refused an event while a batch was committed; the event is
    parked and its aggregate held. A batch prepared meanwhile did not know: prepare again."""

    position: int
    error: str


@dataclass(frozen=True)
class Prepared:
    """A batch decoded and handled, not yet committed."""

    writes: Writes
    spans: list[tuple[Notification, int, int]]  # handled events and their statements
    end: int | None  # the position it commits up to (None: nothing before a poison event)
    poison: tuple[Notification, BaseException] | None  # stop mode without holding (catch-up)
    held_before: frozenset[str] = frozenset()  # aggregates held when it was prepared


def prepare(
    projector: Projector,
    decode: Callable[[Notification], Any],
    on_error: OnError,
    batch: Sequence[Notification],
    held: set[str] | None = None,
    *,
    hold: bool = True,
) -> Prepared:
    """Decode and handle a batch: its statements, nothing written yet. Events of `held`
    aggregates are recorded behind their parked one. A handler failure parks the event; in
    stop mode its aggregate joins `held`, or, without `hold` (catch-up processes, which cannot
    tell each other), the batch ends before it."""
    held = set() if held is None else held
    before = frozenset(held)
    topics = projector.topics
    name, generation = projector.name, projector.generation
    writes = Writes()
    spans: list[tuple[Notification, int, int]] = []
    end: int | None = None  # the position this batch commits up to
    for n in batch:
        if n.topic in topics:
            start = len(writes)
            if held and str(n.originator_id) in held:
                dead_letters.hold_into(writes, name, generation, n)
            else:
                try:
                    projector.handle(n.topic, decode(n), n.id, writes)
                except Exception as error:  # any handler failure is poison
                    writes.truncate(start)
                    logger.error("projector %s: poison event at %d: %r", name, n.id, error)
                    stop = on_error == "stop"
                    if stop and not hold:
                        return Prepared(writes, spans, end, (n, error), before)
                    dead_letters.park_into(writes, name, generation, n, error, hold=stop)
                    if stop:
                        held.add(str(n.originator_id))
            spans.append((n, start, len(writes)))
        end = n.id
    return Prepared(writes, spans, end, None, before)


class BatchProcessor:
    def __init__(
        self,
        projector: Projector,
        decode: Callable[[Notification], Any],
        views: ViewRecorder,
        on_error: OnError,
        position: int,
        held: set[str] | None = None,
    ) -> None:
        self.projector = projector
        self.decode = decode
        self.views = views
        self.on_error = on_error
        self.position = position  # the last position committed
        # Aggregates held (stop mode): as the batches prepared so far leave them.
        self.held: set[str] = set() if held is None else held
        # Live: each event's span joins its command's trace; else (catch-up, rebuild) the
        # batch's span links to them (adapters/telemetry/projections.py).
        self.live = False

    def _check(self, held: frozenset[str]) -> HoldCheck | None:
        return (self.projector.name, self.projector.generation, held) if held else None

    def _commit(self, writes: Writes, position: int, held: frozenset[str]) -> None:
        self.views.commit(
            writes, self.projector.tracking_name, self.position, position, self._check(held)
        )
        self.position = position

    def process(self, batch: Sequence[Notification]) -> Refused | None:
        """Prepare and apply one batch."""
        return self.apply(self.prepare(batch))

    def prepare(self, batch: Sequence[Notification]) -> Prepared:
        """Decode and handle the batch: its statements, nothing written yet."""
        return prepare(self.projector, self.decode, self.on_error, batch, self.held)

    def apply(self, prepared: Prepared) -> Refused | None:
        """Commit a prepared batch after the previous one (one transaction with the tracking
        position); Refused if the database refused an event of it in stop mode."""
        if prepared.end is None:
            return None
        events = [n for n, _, _ in prepared.spans]
        with projecting(self.projector.name, events, prepared.end, live=self.live):
            return self._commit_batch(prepared, prepared.end)

    def apply_whole(self, writes: Writes, end: int) -> bool:
        """Commit a batch prepared elsewhere (with the holds as they are), which cannot be
        split per event: False if the database refused it (nothing was written; the caller
        prepares it again here)."""
        try:
            with projecting(self.projector.name, (), end, live=False):
                self._commit(writes, end, frozenset(self.held))
        except Exception as error:
            if not is_poison(error):
                raise
            logger.warning("projector %s: batch refused (%s)", self.projector.name, error)
            return False
        return True

    def _commit_batch(self, prepared: Prepared, end: int) -> Refused | None:
        held = prepared.held_before
        try:
            self._commit(prepared.writes, end, held)
            return None
        except Exception as error:
            if not is_poison(error):
                raise
            logger.warning(
                "projector %s: batch refused (%s); one by one", self.projector.name, error
            )
        # The database refused the batch: find the event it refused, each event in its own
        # transaction with its own position.
        name, generation = self.projector.name, self.projector.generation
        refused: Refused | None = None
        newly: set[str] = set()  # aggregates held since this batch was prepared
        for n, start, stop in prepared.spans:
            single = Writes()
            if str(n.originator_id) in newly:
                dead_letters.hold_into(single, name, generation, n)
            else:
                single.statements = prepared.writes.statements[start:stop]
            try:
                self._commit(single, n.id, held)
            except Exception as error:
                if not is_poison(error):
                    raise
                logger.error("projector %s: poison event at %d: %r", name, n.id, error)
                stop_mode = self.on_error == "stop"
                parked = Writes()
                dead_letters.park_into(parked, name, generation, n, error, hold=stop_mode)
                self._commit(parked, n.id, held)
                if stop_mode:
                    newly.add(str(n.originator_id))
                    refused = refused or Refused(n.id, dead_letters.describe(error)[0])
        if end > self.position:
            self._commit(Writes(), end, held)
        self.held |= newly
        return refused
