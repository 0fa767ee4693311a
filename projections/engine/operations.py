"""Operating projectors: status (position, lag), rebuild beside the active view, retry."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from projections.engine import dead_letters, generations
from projections.engine.dead_letters import DeadLetter, Hold
from projections.engine.event_source import EventSource
from projections.engine.projector_base import OnError, Projector, Writes, tracking_name
from projections.engine.projector_worker import Progress, Worker
from projections.engine.view_recorder import ViewRecorder, datastore, is_transient
from projections.settings import ProjectionSettings

_HELD = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 2)"
)


@dataclass(frozen=True)
class ProjectorStatus:
    name: str
    version: int
    on_error: OnError
    generation: int | None  # the active one
    position: int | None  # of the active generation
    store_position: int
    # Stream sequences between the view and the store (command markers count too, so this is
    # an upper bound of events), and the age of the oldest event not yet in the view.
    lag_events: int
    lag_seconds: float
    running: bool  # a worker holds the lock of the active (or a building) generation
    building: dict[int, int] = field(default_factory=dict)  # generation -> position
    parked: list[DeadLetter] = field(default_factory=list)
    # Stop mode: aggregates stopped at a parked event, their later events held behind it.
    holds: list[Hold] = field(default_factory=list)


def _running(conn: psycopg.Connection[Any], projector: str, generation: int) -> bool:
    key = generations.lock_key(projector) & 0xFFFFFFFF  # pg_locks shows the key as an oid
    row = conn.execute(_HELD, (key, generation)).fetchone()
    return bool(row and row[0])


def _position(conn: psycopg.Connection[Any], projector: str, generation: int) -> int | None:
    row = conn.execute(
        "SELECT notification_id FROM projection_tracking WHERE application_name = %s",
        (tracking_name(projector, generation),),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def status(
    settings: ProjectionSettings, source: EventSource, projectors: list[type[Projector]]
) -> list[ProjectorStatus]:
    store = source.max_position()
    found: list[ProjectorStatus] = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for cls in projectors:
            gens = generations.live(conn, cls.name)
            active = next((g for g in gens if g.status == "active"), None)
            position = _position(conn, cls.name, active.generation) if active else None
            lag_seconds = 0.0
            if (position or 0) < store:
                oldest = source.next_after(position or 0)
                when = source.time_of(oldest) if oldest is not None else None
                if when is not None:
                    lag_seconds = max(0.0, (datetime.now(UTC) - when).total_seconds())
            found.append(
                ProjectorStatus(
                    name=cls.name,
                    version=cls.version,
                    on_error=settings.on_error_for(cls),
                    generation=active.generation if active else None,
                    position=position,
                    store_position=store,
                    lag_events=max(0, store - (position or 0)),
                    lag_seconds=lag_seconds,
                    running=any(
                        _running(conn, cls.name, g.generation)
                        for g in gens
                        if g.status in ("active", "building")
                    ),
                    building={
                        g.generation: _position(conn, cls.name, g.generation) or 0
                        for g in gens
                        if g.status == "building"
                    },
                    parked=dead_letters.parked(conn, cls.name),
                    holds=dead_letters.holds(conn, cls.name),
                )
            )
    return found


def rebuild(
    settings: ProjectionSettings,
    source: EventSource,
    cls: type[Projector],
    stop: threading.Event,
    progress: Progress | None = None,
    *,
    resume: bool = False,
) -> int | None:
    """Replay the store from sequence 0 into a new generation beside the active one, then
    switch to it atomically. Queries keep reading the old one until then. Returns the new
    generation, or None if stopped first. A build that holds aggregates back (stop mode) is
    not switched to: ProjectorStopped, and the generation stays (`retry`, then `rebuild
    --resume`)."""
    worker = Worker(cls, settings, source, wait_for_retry=False)
    try:
        with worker.admin() as conn:
            target = generations.building(conn, cls, settings.source, fresh=not resume)
        return target.generation if worker.build(target.generation, stop, progress) else None
    finally:
        worker.close()


@dataclass
class RetryReport:
    resolved: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)


def retry(
    settings: ProjectionSettings,
    source: EventSource,
    cls: type[Projector],
    *,
    skip: Sequence[int] = (),
) -> RetryReport:
    """Apply the parked events again with the current code, each aggregate's in order: its
    parked event, then those held behind it, each with its rows in one transaction; an
    aggregate with nothing left open is released. `skip`: positions of parked events to give
    up on (`skipped`, never applied), so that what is held behind them can follow."""
    report = RetryReport()
    views = ViewRecorder(datastore(settings.database_url))
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            for letter in dead_letters.parked(conn, cls.name):
                name = tracking_name(cls.name, letter.generation)
                if letter.position in skip and views.skip(name, letter):
                    report.skipped.append(letter.position)
            done: set[tuple[int, str]] = set()
            for first in dead_letters.parked(conn, cls.name, with_held=True):
                aggregate = (first.generation, first.originator_id)
                if aggregate not in done:
                    done.add(aggregate)
                    _retry_aggregate(conn, views, source, cls, first, report)
    finally:
        views.datastore.close()
    return report


def _retry_aggregate(
    conn: psycopg.Connection[Any],
    views: ViewRecorder,
    source: EventSource,
    cls: type[Projector],
    first: DeadLetter,
    report: RetryReport,
) -> None:
    """One aggregate's open letters in order, until one fails again or none is left."""
    projector = cls(first.generation)
    tried = -1
    while letters := dead_letters.open_letters(
        conn, cls.name, first.generation, first.originator_id
    ):
        letter = letters[0]
        if letter.position == tried:
            return  # not resolved, not failed: another retry holds it
        tried = letter.position
        try:
            n = source.at(letter.position)
            if n is None:
                raise LookupError(f"no event at position {letter.position} in the store")
            writes = Writes()
            projector.handle(n.topic, source.decode(n), n.id, writes)
            if views.resolve(writes, projector.tracking_name, letter):
                report.resolved.append(letter.position)
        except Exception as error:
            if is_transient(error):
                raise
            dead_letters.failed_again(conn, letter, error)
            report.failed[letter.position] = dead_letters.describe(error)[0]
            return
