"""Queries of the directory views, one tenant at a time (row-level security), paginated by
keyset cursors, optionally after waiting for a position (read-your-writes)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.errors import Forbidden, InvalidInput
from domain.identity.capabilities import TENANT_ADMIN, holds
from projections.engine.pages import Page, by_position, by_time_and_id, keyset_page
from projections.engine.view_reads import Reader

USERS = "directory_users"
SECURITY_EVENTS = "security_events"

_OLDEST_USER_FIRST = by_time_and_id("registered_at", "user_id")
_NEWEST_EVENT_FIRST = by_position("position", descending=True)


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
    query = (
        "SELECT user_id, capabilities, device_count, passkey_count, totp_enabled, erased,"
        " registered_at, last_login_at, updated_at FROM directory_users WHERE tenant_id = %s"
    )
    return keyset_page(
        pool,
        reader.tenant_id,
        USERS,
        query,
        [reader.tenant_id],
        _OLDEST_USER_FIRST,
        after=after,
        cursor=cursor,
        limit=limit,
    )


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
    query = (
        "SELECT position, event_id, kind, outcome, user_id, device_id, occurred_at, details"
        " FROM security_events WHERE tenant_id = %s"
    )
    params: list[Any] = [reader.tenant_id]
    if user_id is not None:
        query += " AND user_id = %s"
        params.append(_uuid(user_id))
    return keyset_page(
        pool,
        reader.tenant_id,
        SECURITY_EVENTS,
        query,
        params,
        _NEWEST_EVENT_FIRST,
        after=after,
        cursor=cursor,
        limit=limit,
    )


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as error:
        raise InvalidInput("user_id is not a user id", {"user_id": value}) from error
