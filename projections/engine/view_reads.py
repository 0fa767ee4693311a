"""How queries read views: as the application role, one tenant per transaction, and after
waiting (bounded) for a position the caller has written (read-your-writes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from projections.engine.errors import ProjectionBehind, ProjectionNotBuilt
from projections.engine.view_signals import ASK_AGAIN_S, WAIT_CHANNEL

DEFAULT_WAIT = 2.0


@dataclass(frozen=True)
class Reader:
    """Who asks a query: what it may ask, and whose rows it sees, depend on it."""

    tenant_id: UUID
    user_id: str
    capabilities: tuple[str, ...] = ()


_POSITION = (
    "SELECT t.notification_id FROM projection_generations g JOIN projection_tracking t"
    " ON t.application_name = g.projector || '@g' || g.generation"
    " WHERE g.projector = %s AND g.status = 'active'"
)
# Tells the projector that a query waits (decision 0054): a notification is sent when its
# transaction commits; this one need not wait for the WAL's flush.
_ASK = "SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, %s)"
_ASK_AFTER_S = 0.01  # a view whose batch changes rows commits it sooner: not asked then


@contextmanager
def tenant_reader(
    pool: ConnectionPool[Any], tenant_id: UUID | str
) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
    """A read-only transaction as `cairn_app` (not the owner, no BYPASSRLS) with the tenant set
    for this transaction only: row-level security decides what is visible. Both settings end
    with the transaction, so nothing leaks to the next user of the pooled connection."""
    tenant = str(UUID(str(tenant_id)))
    with (
        pool.connection() as conn,
        conn.transaction(),
        conn.cursor(row_factory=dict_row) as cur,
    ):
        # One snapshot for the rows and the position they are as of.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute("SET LOCAL ROLE cairn_app")
        cur.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
        try:
            yield cur
        except psycopg.errors.UndefinedTable as error:
            raise ProjectionNotBuilt(
                "this view has not been built yet: start its projector (cairn projector run all)"
            ) from error
        except psycopg.errors.UndefinedColumn as error:
            # The active generation is an older version than this code reads: the projector
            # is building the new one beside it and switches when it is current.
            raise ProjectionNotBuilt(
                "this view is being rebuilt for a newer version; retry shortly"
            ) from error


def current_position(conn: psycopg.Connection[Any], projection: str) -> int | None:
    row = conn.execute(_POSITION, (projection,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def wait_for(
    pool: ConnectionPool[Any], projection: str, position: int, timeout: float | None = None
) -> int:
    """Block until the active view of `projection` has applied the store position `position`
    (a command's answer); returns the view's position. ProjectionBehind (409) after `timeout`
    (None: `DEFAULT_WAIT`, read at each call).

    A view that is still behind after `_ASK_AFTER_S` is asked for the position (and again
    every `ASK_AGAIN_S`): its projector may be letting a batch that only moves its tracking
    position wait for company (decision 0054)."""
    began = time.monotonic()
    bound = DEFAULT_WAIT if timeout is None else timeout
    deadline = began + bound
    ask_at = began + _ASK_AFTER_S
    delay = 0.002
    reached: int | None = None
    while True:
        with pool.connection() as conn:
            reached = current_position(conn, projection)
            behind = reached is None or reached < position
            if behind and time.monotonic() >= ask_at:
                conn.execute(_ASK, (WAIT_CHANNEL, f"{projection} {position}"))
                conn.commit()
                ask_at = time.monotonic() + ASK_AGAIN_S
            else:
                conn.rollback()
        if not behind:
            return int(reached or 0)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.025)
    raise ProjectionBehind(
        f"the {projection} view has not reached position {position} within {bound:g}s "
        f"(it is at {reached if reached is not None else 'nothing yet'}); retry the query",
        {"projection": projection, "position": position, "reached": reached},
    )
