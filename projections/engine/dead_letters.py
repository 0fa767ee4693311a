"""Poison events: parked with their error and position, retried on request.

Stop mode stops the poison event's aggregate, not the projector (decision 0011): the event is
parked, its aggregate held, and the aggregate's later events are recorded as `held` letters
in the transactions that move the tracking position past them, so every other aggregate (of
every tenant) goes on. `retry` applies an aggregate's parked event, then its held ones in
order, and releases the hold.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import Notification

from projections.engine.projector_base import Writes

_MAX_TRACEBACK = 8000
_LIVE = (
    " AND EXISTS (SELECT 1 FROM projection_generations g WHERE g.projector = d.projector"
    " AND g.generation = d.generation AND NOT g.dropped)"
)

PARK = (
    "INSERT INTO projection_dead_letters (projector, generation, position, topic,"
    " originator_id, originator_version, error, traceback, status)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'parked')"
    " ON CONFLICT (projector, generation, position) DO UPDATE SET"
    " error = EXCLUDED.error, traceback = EXCLUDED.traceback, status = 'parked',"
    " attempts = projection_dead_letters.attempts + 1, parked_at = now(), resolved_at = NULL"
)
HOLD = (
    "INSERT INTO projection_holds (projector, generation, originator_id, position)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
HELD = (
    "INSERT INTO projection_dead_letters (projector, generation, position, topic,"
    " originator_id, originator_version, error, traceback, status, attempts)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, '', 'held', 0) ON CONFLICT DO NOTHING"
)
FAILED_AGAIN = (
    "UPDATE projection_dead_letters SET error = %s, traceback = %s, status = 'parked',"
    " attempts = attempts + 1 WHERE projector = %s AND generation = %s AND position = %s"
)
RESOLVE = (
    "UPDATE projection_dead_letters SET status = 'resolved', resolved_at = now()"
    " WHERE projector = %s AND generation = %s AND position = %s"
    " AND status IN ('parked', 'held')"
    # Only an aggregate's first open letter: its events are applied in order.
    " AND NOT EXISTS (SELECT 1 FROM projection_dead_letters e WHERE e.projector = %s"
    " AND e.generation = %s AND e.position < %s AND e.status IN ('parked', 'held')"
    " AND e.originator_id = projection_dead_letters.originator_id)"
)
SKIP = (
    "UPDATE projection_dead_letters SET status = 'skipped', resolved_at = now()"
    " WHERE projector = %s AND generation = %s AND position = %s AND status = 'parked'"
)
_OPEN = (
    "SELECT projector, generation, position, topic, originator_id, error, attempts, status"
    " FROM projection_dead_letters d WHERE projector = %s AND status IN ('parked', 'held')"
)
RELEASE = (
    "DELETE FROM projection_holds h WHERE projector = %s AND generation = %s"
    " AND originator_id = %s AND NOT EXISTS (SELECT 1 FROM projection_dead_letters d"
    " WHERE d.projector = h.projector AND d.generation = h.generation"
    " AND d.originator_id = h.originator_id AND d.status IN ('parked', 'held'))"
)
_HOLDS = (
    "SELECT h.generation, h.originator_id, h.position, (SELECT count(*)"
    " FROM projection_dead_letters d WHERE d.projector = h.projector"
    " AND d.generation = h.generation AND d.originator_id = h.originator_id"
    " AND d.status = 'held') FROM projection_holds h JOIN projection_generations g"
    " USING (projector, generation) WHERE h.projector = %s AND NOT g.dropped"
    " ORDER BY h.generation, h.position"
)
STILL_HELD = (
    "SELECT count(*) FROM projection_holds WHERE projector = %s AND generation = %s"
    " AND originator_id = ANY(%s)"
)


@dataclass(frozen=True)
class DeadLetter:
    projector: str
    generation: int
    position: int
    topic: str
    error: str
    attempts: int
    originator_id: str = ""
    status: str = "parked"  # or "held": behind a parked event of its aggregate


@dataclass(frozen=True)
class Hold:
    """An aggregate stopped at a parked event; `held` of its later events wait behind it."""

    generation: int
    originator_id: str
    position: int
    held: int


def describe(error: BaseException) -> tuple[str, str]:
    """The error line and a bounded traceback of an exception being handled."""
    text = "".join(traceback.format_exception(error))
    return f"{type(error).__name__}: {error}"[:2000], text[-_MAX_TRACEBACK:]


def park_into(
    writes: Writes,
    projector: str,
    generation: int,
    n: Notification,
    error: BaseException,
    *,
    hold: bool = False,
) -> None:
    """Park within the batch's own transaction: parked exactly once. `hold` (stop mode): the
    aggregate's later events are held behind it."""
    message, trace = describe(error)
    key = str(n.originator_id)
    writes.execute(
        PARK, (projector, generation, n.id, n.topic, key, n.originator_version, message, trace)
    )
    if hold:
        writes.execute(HOLD, (projector, generation, key, n.id))


def hold_into(writes: Writes, projector: str, generation: int, n: Notification) -> None:
    """Record an event of a held aggregate, to be applied after its parked one."""
    key = str(n.originator_id)
    why = f"held: an earlier event of aggregate {key} is parked"
    writes.execute(HELD, (projector, generation, n.id, n.topic, key, n.originator_version, why))


def _letters(rows: Iterable[Any]) -> list[DeadLetter]:
    return [
        DeadLetter(
            str(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[5]), int(r[6]), str(r[4]), str(r[7])
        )
        for r in rows
    ]


def parked(
    conn: psycopg.Connection[Any],
    projector: str,
    generation: int | None = None,
    *,
    with_held: bool = False,
) -> list[DeadLetter]:
    """The parked letters (and `with_held`, the held ones) of live generations, in order."""
    query = _OPEN + ("" if with_held else " AND status = 'parked'") + _LIVE
    params: tuple[Any, ...] = (projector,)
    if generation is not None:
        query += " AND generation = %s"
        params = (projector, generation)
    return _letters(conn.execute(query + " ORDER BY generation, position", params).fetchall())


def open_letters(
    conn: psycopg.Connection[Any], projector: str, generation: int, originator_id: str
) -> list[DeadLetter]:
    """One aggregate's parked and held letters, in order."""
    query = _OPEN + " AND generation = %s AND originator_id = %s ORDER BY position"
    return _letters(conn.execute(query, (projector, generation, originator_id)).fetchall())


def holds(conn: psycopg.Connection[Any], projector: str) -> list[Hold]:
    rows = conn.execute(_HOLDS, (projector,)).fetchall()
    return [Hold(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


def held_aggregates(conn: psycopg.Connection[Any], projector: str, generation: int) -> set[str]:
    rows = conn.execute(
        "SELECT originator_id FROM projection_holds WHERE projector = %s AND generation = %s",
        (projector, generation),
    ).fetchall()
    return {str(r[0]) for r in rows}


def failed_again(conn: psycopg.Connection[Any], letter: DeadLetter, error: BaseException) -> None:
    """A retry failed: the letter is (again, or now, if it was held) the parked one."""
    message, trace = describe(error)
    conn.execute(
        FAILED_AGAIN, (message, trace, letter.projector, letter.generation, letter.position)
    )
