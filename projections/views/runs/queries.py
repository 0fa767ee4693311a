"""Queries of the runs view: a person's runs, one run in detail, and their approvals inbox
(escalated runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.errors import NotFound
from projections.engine.pages import Page, by_time_and_id, keyset_page
from projections.engine.view_reads import current_position, tenant_reader, wait_for

RUNS = "runs"
_COLUMNS = (
    "run_id, status, channel, text, plan_hash, outcome, escalation_expires_at, failure,"
    " created_at, updated_at, position"
)
_NEWEST_FIRST = by_time_and_id("created_at", "run_id", descending=True)


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
    query = f"SELECT {_COLUMNS} FROM runs WHERE tenant_id = %s AND user_id = %s"  # noqa: S608
    params: list[Any] = [tenant_id, user_id]
    if status is not None:
        query += " AND status = %s"
        params.append(status)
    return keyset_page(
        pool, tenant_id, RUNS, query, params, _NEWEST_FIRST, after=after, cursor=cursor, limit=limit
    )


_DETAIL = (
    "SELECT run_id, status, text, channel, plan, plan_hash, decision, steps, failure,"
    " escalation_expires_at, timeline FROM runs"
    " WHERE tenant_id = %s AND user_id = %s AND run_id = %s"
)


def get_run(
    pool: ConnectionPool[Any],
    tenant_id: UUID,
    user_id: str,
    run_id: str,
    *,
    after: int | None = None,
) -> dict[str, Any]:
    """One of the person's runs with its plan, decision, steps and timeline, as the runs view
    has it (after waiting for `after`). NotFound for an unknown id and for another person's
    or tenant's run alike."""
    try:
        parsed = UUID(run_id)
    except ValueError as error:
        raise NotFound("no such run", {"run_id": run_id[:100]}) from error
    if after is not None:
        wait_for(pool, RUNS, after)
    with tenant_reader(pool, tenant_id) as cur:
        row = cur.execute(_DETAIL, (tenant_id, user_id, parsed)).fetchone()
        position = current_position(cur.connection, RUNS)
    if row is None:
        raise NotFound("no such run", {"run_id": run_id})
    expires: datetime | None = row["escalation_expires_at"]
    return {
        **row,
        "run_id": str(row["run_id"]),
        "escalation_expires_at": expires.astimezone(UTC).isoformat() if expires else None,
        "position": position,
    }
