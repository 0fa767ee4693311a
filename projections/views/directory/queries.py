"""Queries of the directory views, one tenant at a time (row-level security), paginated by
keyset cursors, optionally after waiting for a position (read-your-writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.errors import Forbidden, InvalidInput
from domain.identity.capabilities import TENANT_ADMIN, holds
from projections.engine.cursors import (
    decode_keyset,
    decode_position,
    encode_keyset,
    encode_position,
)
from projections.engine.view_reads import Reader, current_position, tenant_reader, wait_for

USERS = "directory_users"
SECURITY_EVENTS = "security_events"


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    # The store position the view had applied when it was read.
    position: int | None


def list_users(
    pool: ConnectionPool[Any],
    reader: Reader,
    *,
    after: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The tenant's users, oldest registration first (for a `tenant.admin` only)."""
    if not holds(reader.capabilities, TENANT_ADMIN):
        raise Forbidden("listing the users needs the tenant.admin capability")
    tenant_id = reader.tenant_id
    if after is not None:
        wait_for(pool, USERS, after)
    query = (
        "SELECT user_id, capabilities, device_count, passkey_count, totp_enabled, erased,"
        " registered_at, last_login_at, updated_at FROM directory_users WHERE tenant_id = %s"
    )
    params: list[Any] = [tenant_id]
    if cursor is not None:
        registered_at, user_id = decode_keyset(cursor)
        query += " AND (registered_at, user_id) > (%s::timestamptz, %s::uuid)"
        params += [registered_at, user_id]
    query += " ORDER BY registered_at, user_id LIMIT %s"
    params.append(limit + 1)
    with tenant_reader(pool, tenant_id) as cur:
        rows = cur.execute(query, params).fetchall()
        position = current_position(cur.connection, USERS)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        stamp: datetime = last["registered_at"]
        next_cursor = encode_keyset(stamp, last["user_id"])
    return Page(rows, next_cursor, position)


def list_security_events(
    pool: ConnectionPool[Any],
    reader: Reader,
    *,
    user_id: str | None = None,
    after: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Security events, newest first: the reader's own, or for a `tenant.admin` the whole
    tenant's (or `user_id`'s)."""
    if not holds(reader.capabilities, TENANT_ADMIN):
        if user_id is not None and user_id != reader.user_id:
            raise Forbidden("other users' security events need the tenant.admin capability")
        user_id = reader.user_id
    tenant_id = reader.tenant_id
    if after is not None:
        wait_for(pool, SECURITY_EVENTS, after)
    query = (
        "SELECT position, event_id, kind, outcome, user_id, device_id, occurred_at, details"
        " FROM security_events WHERE tenant_id = %s"
    )
    params: list[Any] = [tenant_id]
    if user_id is not None:
        query += " AND user_id = %s"
        params.append(_uuid(user_id))
    if cursor is not None:
        query += " AND position < %s"
        params.append(decode_position(cursor))
    query += " ORDER BY position DESC LIMIT %s"
    params.append(limit + 1)
    with tenant_reader(pool, tenant_id) as cur:
        rows = cur.execute(query, params).fetchall()
        position = current_position(cur.connection, SECURITY_EVENTS)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_position(rows[-1]["position"]) if more else None
    return Page(rows, next_cursor, position)


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as error:
        raise InvalidInput("user_id is not a user id", {"user_id": value}) from error
