"""Queries of the runs view: a person's runs and their approvals inbox (escalated runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from projections.directory.queries import Page, _decode, _encode
from projections.queries import current_position, tenant_reader, wait_for

RUNS = "runs"
_COLUMNS = (
    "run_id, status, channel, text, plan_hash, outcome, escalation_expires_at, failure,"
    " created_at, updated_at, position"
)


def list_runs(
    pool: ConnectionPool[Any],
    tenant_id: UUID,
    user_id: str,
    *,
    status: str | None = None,
    after: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The person's runs, newest first (only escalated ones for the approvals inbox)."""
    if after is not None:
        wait_for(pool, RUNS, after)
    query = f"SELECT {_COLUMNS} FROM runs WHERE tenant_id = %s AND user_id = %s"  # noqa: S608
    params: list[Any] = [tenant_id, user_id]
    if status is not None:
        query += " AND status = %s"
        params.append(status)
    if cursor is not None:
        created_at, run_id = _decode(cursor, 2)
        query += " AND (created_at, run_id) < (%s::timestamptz, %s::uuid)"
        params += [created_at, run_id]
    query += " ORDER BY created_at DESC, run_id DESC LIMIT %s"
    params.append(limit + 1)
    with tenant_reader(pool, tenant_id) as cur:
        rows = cur.execute(query, params).fetchall()
        position = current_position(cur.connection, RUNS)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        stamp: datetime = rows[-1]["created_at"]
        next_cursor = _encode([stamp.isoformat(), str(rows[-1]["run_id"])])
    return Page(rows, next_cursor, position)
