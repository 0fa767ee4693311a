"""Device-bound sessions in PostgreSQL, with rotating refresh tokens and reuse detection.

Refresh tokens rotate within a family, and a reused one revokes the whole family
(adapters/tokens/refresh_family.py). Revocation is a column read on every request that
checks (`check_session_active`). The API keeps a check's answer for a few
seconds (decision 0010): listeners in `on_revoked` hear of every revocation committed here, so
the process that revoked forgets it at once.

Each statement names its tenant in the WHERE clause as well as through row-level security:
a superuser or table-owner connection bypasses RLS, and the WHERE clause still holds then.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.tokens.access import AccessTokens
from adapters.tokens.errors import (
    RefreshTokenInvalid,
    RefreshTokenReused,
    RevokedFamily,
    SessionRevoked,
)
from adapters.tokens.refresh_family import (
    delete_expired_refresh_tokens,
    insert_refresh_token,
    revoke_family_if_reused,
    spend_refresh_token,
)
from adapters.tokens.refresh_token import hash_of, tenant_of
from commands.ports.sessions import AccessClaims, SessionInfo, TokenPair
from domain.errors import InvalidInput, Unavailable
from domain.identity.scopes import FIRST_PARTY_SCOPES

DEFAULT_REFRESH_TTL_S = 30 * 86_400
# Named as the fields of SessionInfo, so rows load straight into it.
_SESSION_INFO_COLUMNS = (
    "id::text AS session_id, tenant_id AS tenant, user_id, device_id,"
    " family_id::text AS family_id, created_at, authenticated_at, last_seen, revoked_at,"
    " revoke_reason"
)


def _check_ids(**values: str) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise InvalidInput(f"{name} must be a non-empty string of at most 200 characters")


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except (ValueError, TypeError):
        return None


class PostgresSessions:
    """Implements `commands.ports.sessions.Sessions`; tables from migration 0030."""

    def __init__(
        self,
        pool: ConnectionPool[Any],
        access_tokens: AccessTokens,
        *,
        refresh_ttl_s: int = DEFAULT_REFRESH_TTL_S,
        last_seen_resolution_s: int = 60,
    ) -> None:
        self.pool = pool
        self.access_tokens = access_tokens
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)
        # last_seen is written at most this often per session, not on every request.
        self.last_seen_resolution = timedelta(seconds=last_seen_resolution_s)
        # Called with (tenant, session ids) after a revocation has committed.
        self.on_revoked: list[Callable[[str, Sequence[str]], None]] = []

    def _revoked(self, tenant: str, session_ids: Sequence[str]) -> None:
        for listener in self.on_revoked:
            listener(tenant, session_ids)

    def _now(self) -> datetime:
        # One clock for token claims and rows, so that both move together (tests move it).
        return datetime.fromtimestamp(self.access_tokens.clock(), UTC)

    @contextmanager
    def _tenant_transaction(self, tenant: str) -> Iterator[psycopg.Connection[Any]]:
        """One transaction with the tenant set for row-level security (SET LOCAL semantics,
        so it never leaks to the next user of the pooled connection)."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable("the session store is unavailable; retry shortly") from exc

    def _access_token(
        self,
        tenant: str,
        user_id: str,
        session_id: str,
        device_id: str,
        auth_time: datetime,
        scopes: str,
    ) -> str:
        return self.access_tokens.issue(
            tenant=tenant,
            user_id=user_id,
            session_id=session_id,
            device_id=device_id,
            auth_time=int(auth_time.timestamp()),
            scopes=scopes.split(),
        )

    def create_session(
        self,
        tenant: str,
        user_id: str,
        device_id: str,
        scopes: tuple[str, ...] = FIRST_PARTY_SCOPES,
    ) -> TokenPair:
        _check_ids(tenant=tenant, user_id=user_id, device_id=device_id)
        now = self._now()
        session_id, family_id = uuid.uuid4(), uuid.uuid4()
        scope = " ".join(scopes)
        with self._tenant_transaction(tenant) as conn:
            conn.execute(
                "INSERT INTO sessions (id, tenant_id, user_id, device_id, family_id, created_at,"
                " authenticated_at, last_seen, scopes, audience)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    session_id,
                    tenant,
                    user_id,
                    device_id,
                    family_id,
                    now,
                    now,
                    now,
                    scope,
                    self.access_tokens.audience,
                ),
            )
            refresh_token = insert_refresh_token(
                conn, tenant, session_id, family_id, None, now, self.refresh_ttl
            )
        access = self._access_token(tenant, user_id, str(session_id), device_id, now, scope)
        return TokenPair(access, refresh_token, str(session_id))

    def refresh(self, refresh_token: str) -> TokenPair:
        tenant = tenant_of(refresh_token)
        token_hash = hash_of(refresh_token)
        now = self._now()
        reused: RevokedFamily | None = None
        with self._tenant_transaction(tenant) as conn:
            spent = spend_refresh_token(conn, tenant, token_hash, now)
            if spent is not None and not self._own_audience(conn, spent.session_id):
                # Another resource's session (an MCP client's grant at the API's refresh, or
                # the reverse): refused, and the transaction rolls back so it stays unspent.
                raise RefreshTokenInvalid("the refresh token is not valid, expired or revoked")
            if spent is not None:
                successor = insert_refresh_token(
                    conn,
                    tenant,
                    spent.session_id,
                    spent.family_id,
                    spent.token_id,
                    now,
                    self.refresh_ttl,
                )
                conn.execute(
                    "UPDATE sessions SET last_seen = %s WHERE id = %s", (now, spent.session_id)
                )
            else:
                reused = revoke_family_if_reused(conn, tenant, token_hash, now)
        if spent is None:
            # Raised after the transaction committed: the family's revocation must persist.
            if reused is not None:
                self._revoked(tenant, reused.session_ids)
                raise RefreshTokenReused(reused)
            raise RefreshTokenInvalid("the refresh token is not valid, expired or revoked")
        session_id = str(spent.session_id)
        access = self._access_token(
            tenant, spent.user_id, session_id, spent.device_id, spent.authenticated_at, spent.scopes
        )
        return TokenPair(access, successor, session_id)

    def _own_audience(self, conn: psycopg.Connection[Any], session_id: uuid.UUID) -> bool:
        row = conn.execute("SELECT audience FROM sessions WHERE id = %s", (session_id,)).fetchone()
        return row is not None and row[0] == self.access_tokens.audience

    def check_session_active(self, claims: AccessClaims) -> None:
        session_id = _as_uuid(claims.session_id)
        if session_id is None:
            raise SessionRevoked("the session of this token has ended")
        now = self._now()
        with self._tenant_transaction(claims.tenant) as conn:
            row = conn.execute(
                "SELECT revoked_at, user_id, device_id, last_seen FROM sessions"
                " WHERE id = %s AND tenant_id = %s",
                (session_id, claims.tenant),
            ).fetchone()
            active = (
                row is not None
                and row[0] is None
                and (row[1], row[2]) == (claims.user_id, claims.device_id)
            )
            if active and row is not None and now - row[3] >= self.last_seen_resolution:
                conn.execute(
                    "UPDATE sessions SET last_seen = %s WHERE id = %s AND last_seen < %s",
                    (now, session_id, now),
                )
        if not active:
            raise SessionRevoked("the session of this token has ended")

    def step_up(self, claims: AccessClaims) -> str:
        session_id = _as_uuid(claims.session_id)
        now = self._now()
        row = None
        if session_id is not None:
            with self._tenant_transaction(claims.tenant) as conn:
                row = conn.execute(
                    "UPDATE sessions SET authenticated_at = %s, last_seen = %s"
                    " WHERE id = %s AND tenant_id = %s AND revoked_at IS NULL"
                    " AND user_id = %s AND device_id = %s RETURNING scopes",
                    (now, now, session_id, claims.tenant, claims.user_id, claims.device_id),
                ).fetchone()
        if row is None:
            raise SessionRevoked("the session of this token has ended")
        return self._access_token(
            claims.tenant, claims.user_id, claims.session_id, claims.device_id, now, row[0]
        )

    def _revoke_where(self, tenant: str, condition: str, value: Any, reason: str) -> list[str]:
        _check_ids(tenant=tenant, reason=reason)
        # `condition` is always one of this module's column names, never caller input.
        with self._tenant_transaction(tenant) as conn:
            rows = conn.execute(
                "UPDATE sessions SET revoked_at = %s, revoke_reason = %s"  # noqa: S608
                f" WHERE tenant_id = %s AND {condition} = %s AND revoked_at IS NULL RETURNING id",
                (self._now(), reason, tenant, value),
            ).fetchall()
        ended = sorted(str(row[0]) for row in rows)
        if ended:
            self._revoked(tenant, ended)
        return ended

    def revoke_session(self, tenant: str, session_id: str, reason: str = "logout") -> bool:
        parsed = _as_uuid(session_id)
        if parsed is None:
            return False
        return bool(self._revoke_where(tenant, "id", parsed, reason))

    def revoke_device(
        self, tenant: str, device_id: str, reason: str = "device_revoked"
    ) -> list[str]:
        return self._revoke_where(tenant, "device_id", device_id, reason)

    def revoke_user(self, tenant: str, user_id: str, reason: str = "user_revoked") -> list[str]:
        return self._revoke_where(tenant, "user_id", user_id, reason)

    def list_sessions(
        self, tenant: str, user_id: str, include_revoked: bool = False
    ) -> list[SessionInfo]:
        only_active = "" if include_revoked else " AND revoked_at IS NULL"
        with self._tenant_transaction(tenant) as conn:
            cursor = conn.cursor(row_factory=class_row(SessionInfo))
            return cursor.execute(
                f"SELECT {_SESSION_INFO_COLUMNS} FROM sessions"  # noqa: S608
                f" WHERE tenant_id = %s AND user_id = %s{only_active} ORDER BY created_at",
                (tenant, user_id),
            ).fetchall()

    def prune_refresh_tokens(self, tenant: str, expired_for_s: int = 7 * 86_400) -> int:
        """Delete the tenant's refresh tokens expired for longer than `expired_for_s`.

        Kept until then so that a reused token is still recognised as reuse; afterwards it
        is plainly invalid (it would be refused as expired anyway).
        """
        cutoff = self._now() - timedelta(seconds=expired_for_s)
        with self._tenant_transaction(tenant) as conn:
            return delete_expired_refresh_tokens(conn, tenant, cutoff)
