"""The refresh-token rows of a session family: issue a successor, spend one, detect reuse.

Every refresh spends the presented token (`UPDATE ... WHERE used_at IS NULL RETURNING`, so of
two concurrent refreshes exactly one wins) and issues its successor in the same family. A
token presented again means two parties hold it — the client and a thief, and the store
cannot tell which is which — so the whole family is revoked.

Every function runs inside the caller's transaction, with the tenant set for row-level
security (adapters/tokens/sessions.py); each statement names the tenant as well.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from adapters.tokens.errors import RevokedFamily
from adapters.tokens.refresh_token import hash_of, new_refresh_token

REUSE_REASON = "refresh_token_reused"


@dataclass(frozen=True, slots=True)
class SpentToken:
    """A refresh token just spent, and the session it belongs to."""

    token_id: uuid.UUID
    session_id: uuid.UUID
    family_id: uuid.UUID
    user_id: str
    device_id: str
    authenticated_at: datetime
    scopes: str


def insert_refresh_token(
    conn: psycopg.Connection[Any],
    tenant: str,
    session_id: uuid.UUID,
    family_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    now: datetime,
    ttl: timedelta,
) -> str:
    """A new refresh token of the family (only its hash is stored); returns the token."""
    token = new_refresh_token(tenant)
    conn.execute(
        "INSERT INTO refresh_tokens (id, tenant_id, session_id, family_id, parent_id,"
        " token_hash, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (uuid.uuid4(), tenant, session_id, family_id, parent_id, hash_of(token), now, now + ttl),
    )
    return token


def spend_refresh_token(
    conn: psycopg.Connection[Any], tenant: str, token_hash: bytes, now: datetime
) -> SpentToken | None:
    """Mark the token used if it is unused, unexpired and its session live; None otherwise."""
    row = conn.execute(
        "UPDATE refresh_tokens AS rt SET used_at = %(now)s FROM sessions AS s"
        " WHERE rt.token_hash = %(hash)s AND rt.tenant_id = %(tenant)s"
        " AND rt.used_at IS NULL"
        " AND rt.expires_at > %(now)s AND s.id = rt.session_id AND s.revoked_at IS NULL"
        " RETURNING rt.id, rt.session_id, rt.family_id, s.user_id, s.device_id,"
        " s.authenticated_at, s.scopes",
        {"now": now, "hash": token_hash, "tenant": tenant},
    ).fetchone()
    return None if row is None else SpentToken(*row)


def revoke_family_if_reused(
    conn: psycopg.Connection[Any], tenant: str, token_hash: bytes, now: datetime
) -> RevokedFamily | None:
    """If the token was spent before, revoke every session of its family and say which."""
    found = conn.execute(
        "SELECT rt.used_at, rt.family_id, s.user_id, s.device_id FROM refresh_tokens AS rt"
        " JOIN sessions AS s ON s.id = rt.session_id"
        " WHERE rt.token_hash = %s AND rt.tenant_id = %s",
        (token_hash, tenant),
    ).fetchone()
    if found is None or found[0] is None:
        return None  # unknown, expired, or its session was revoked: plainly invalid
    _, family_id, user_id, device_id = found
    conn.execute(
        "UPDATE sessions SET revoked_at = %s, revoke_reason = %s"
        " WHERE family_id = %s AND tenant_id = %s AND revoked_at IS NULL",
        (now, REUSE_REASON, family_id, tenant),
    )
    session_ids = conn.execute(
        "SELECT id FROM sessions WHERE family_id = %s AND tenant_id = %s ORDER BY created_at",
        (family_id, tenant),
    ).fetchall()
    return RevokedFamily(
        tenant=tenant,
        user_id=user_id,
        device_id=device_id,
        family_id=str(family_id),
        session_ids=tuple(str(row[0]) for row in session_ids),
    )


def delete_expired_refresh_tokens(
    conn: psycopg.Connection[Any], tenant: str, cutoff: datetime
) -> int:
    cursor = conn.execute(
        "DELETE FROM refresh_tokens WHERE tenant_id = %s AND expires_at < %s", (tenant, cutoff)
    )
    return cursor.rowcount
