"""Poison events: parked with their error and position, retried on request."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import Notification

from projections.projector import Writes

_MAX_TRACEBACK = 8000

PARK = (
    "INSERT INTO projection_dead_letters (projector, generation, position, topic,"
    " originator_id, originator_version, error, traceback, status)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'parked')"
    " ON CONFLICT (projector, generation, position) DO UPDATE SET"
    " error = EXCLUDED.error, traceback = EXCLUDED.traceback, status = 'parked',"
    " attempts = projection_dead_letters.attempts + 1, parked_at = now(), resolved_at = NULL"
)
FAILED_AGAIN = (
    "UPDATE projection_dead_letters SET error = %s, traceback = %s,"
    " attempts = attempts + 1 WHERE projector = %s AND generation = %s AND position = %s"
)
RESOLVE = (
    "UPDATE projection_dead_letters SET status = 'resolved', resolved_at = now()"
    " WHERE projector = %s AND generation = %s AND position = %s AND status = 'parked'"
)


@dataclass(frozen=True)
class DeadLetter:
    projector: str
    generation: int
    position: int
    topic: str
    error: str
    attempts: int


def describe(error: BaseException) -> tuple[str, str]:
    """The error line and a bounded traceback of an exception being handled."""
    text = "".join(traceback.format_exception(error))
    return f"{type(error).__name__}: {error}"[:2000], text[-_MAX_TRACEBACK:]


def park_into(
    writes: Writes, projector: str, generation: int, n: Notification, error: BaseException
) -> None:
    """Park within the batch's own transaction (skip mode): parked exactly once."""
    message, trace = describe(error)
    writes.execute(
        PARK,
        (
            projector,
            generation,
            n.id,
            n.topic,
            str(n.originator_id),
            n.originator_version,
            message,
            trace,
        ),
    )


def parked(
    conn: psycopg.Connection[Any], projector: str, generation: int | None = None
) -> list[DeadLetter]:
    query = (
        "SELECT projector, generation, position, topic, error, attempts"
        " FROM projection_dead_letters d WHERE projector = %s AND status = 'parked'"
        " AND EXISTS (SELECT 1 FROM projection_generations g WHERE g.projector = d.projector"
        " AND g.generation = d.generation AND NOT g.dropped)"
    )
    params: tuple[Any, ...] = (projector,)
    if generation is not None:
        query += " AND generation = %s"
        params = (projector, generation)
    rows = conn.execute(query + " ORDER BY generation, position", params).fetchall()
    return [
        DeadLetter(str(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4]), int(r[5])) for r in rows
    ]


def is_parked(
    conn: psycopg.Connection[Any], projector: str, generation: int, position: int
) -> bool:
    row = conn.execute(
        "SELECT 1 FROM projection_dead_letters WHERE projector = %s AND generation = %s"
        " AND position = %s AND status = 'parked'",
        (projector, generation, position),
    ).fetchone()
    return row is not None


def failed_again(conn: psycopg.Connection[Any], letter: DeadLetter, error: BaseException) -> None:
    message, trace = describe(error)
    conn.execute(
        FAILED_AGAIN, (message, trace, letter.projector, letter.generation, letter.position)
    )
