"""The OAuth authorization server's rows in PostgreSQL (migration 0085).

Codes and grants are tenant rows under row-level security: each statement sets the tenant for
its transaction and names it in the WHERE clause too (as adapters/tokens/sessions.py does).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.tokens.errors import RefreshTokenInvalid
from adapters.tokens.refresh_token import hash_of, tenant_of
from commands.ports.oauth import GrantRecord, RefreshGrant
from domain.errors import Unavailable


class PostgresOAuthStore:
    """Implements `commands.ports.oauth.OAuthStore`."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    @contextmanager
    def _transaction(self, tenant: str | None = None) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                if tenant is not None:
                    conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable("the authorization store is unavailable; retry shortly") from exc

    def register_client(self, client_id: str, metadata: dict[str, Any], now: datetime) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO oauth_clients (client_id, metadata, registered_at)"
                " VALUES (%s, %s, %s)",
                (client_id, Jsonb(metadata), now),
            )

    def get_client(self, client_id: str) -> dict[str, Any] | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT metadata FROM oauth_clients WHERE client_id = %s", (client_id,)
            ).fetchone()
        return None if row is None else dict(row[0])

    def put_request(self, request_id: str, request: dict[str, Any], expires_at: datetime) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM oauth_requests WHERE expires_at < now()")
            conn.execute(
                "INSERT INTO oauth_requests (id, request, expires_at) VALUES (%s, %s, %s)",
                (request_id, Jsonb(request), expires_at),
            )

    def get_request(self, request_id: str, now: datetime) -> dict[str, Any] | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT request FROM oauth_requests WHERE id = %s AND expires_at > %s",
                (request_id, now),
            ).fetchone()
        return None if row is None else dict(row[0])

    def take_request(self, request_id: str, now: datetime) -> dict[str, Any] | None:
        with self._transaction() as conn:
            row = conn.execute(
                "DELETE FROM oauth_requests WHERE id = %s AND expires_at > %s RETURNING request",
                (request_id, now),
            ).fetchone()
        return None if row is None else dict(row[0])

    def put_code(
        self, tenant: str, code_hash: bytes, grant: dict[str, Any], expires_at: datetime
    ) -> None:
        with self._transaction(tenant) as conn:
            conn.execute(
                "INSERT INTO oauth_codes (code_hash, tenant_id, grant_data, expires_at)"
                " VALUES (%s, %s, %s, %s)",
                (code_hash, tenant, Jsonb(grant), expires_at),
            )

    def take_code(self, tenant: str, code_hash: bytes, now: datetime) -> dict[str, Any] | None:
        with self._transaction(tenant) as conn:
            row = conn.execute(
                "DELETE FROM oauth_codes WHERE code_hash = %s AND tenant_id = %s"
                " RETURNING grant_data, expires_at",
                (code_hash, tenant),
            ).fetchone()
        if row is None or row[1] <= now:
            return None
        return dict(row[0])

    def record_grant(self, tenant: str, session_id: str, grant: GrantRecord, now: datetime) -> None:
        with self._transaction(tenant) as conn:
            conn.execute(
                "INSERT INTO oauth_grants (session_id, tenant_id, client_id, resource, scopes,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (session_id, tenant, grant.client_id, grant.resource, grant.scopes, now),
            )

    def grant_of_refresh_token(self, refresh_token: str) -> RefreshGrant | None:
        try:
            tenant = tenant_of(refresh_token)
        except RefreshTokenInvalid:
            return None
        with self._transaction(tenant) as conn:
            row = conn.execute(
                "SELECT g.session_id::text, g.client_id, g.resource, g.scopes"
                " FROM refresh_tokens AS rt JOIN oauth_grants AS g ON g.session_id = rt.session_id"
                " WHERE rt.token_hash = %s AND rt.tenant_id = %s AND g.tenant_id = %s",
                (hash_of(refresh_token), tenant, tenant),
            ).fetchone()
        return None if row is None else RefreshGrant(tenant, row[0], GrantRecord(*row[1:]))

    def grant_of_session(self, tenant: str, session_id: str) -> GrantRecord | None:
        with self._transaction(tenant) as conn:
            row = conn.execute(
                "SELECT client_id, resource, scopes FROM oauth_grants"
                " WHERE session_id = %s AND tenant_id = %s",
                (session_id, tenant),
            ).fetchone()
        return None if row is None else GrantRecord(*row)
