"""The rows of connection_tokens (migration 0060): sealed tokens, expiry and refresh state.

Every statement runs in a transaction with its tenant set for row-level security, and names
the tenant in its WHERE clause too. `locked` holds one connection's row FOR UPDATE: the lock
that serialises refreshes (and a disconnect) across every process and host.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from domain.errors import Unavailable

_COLUMNS = (
    "tenant_id, connection_id, person_id, provider, status, sealed, expires_at, scopes,"
    " version, failures, retry_at, last_error, refreshed_at"
)


@dataclass(frozen=True)
class TokenRow:
    tenant_id: str
    connection_id: UUID
    person_id: str
    provider: str
    status: str
    sealed: str = field(repr=False)
    expires_at: datetime
    scopes: tuple[str, ...]
    version: int
    failures: int
    retry_at: datetime | None
    last_error: str | None
    refreshed_at: datetime


def _row(values: tuple[Any, ...] | None) -> TokenRow | None:
    if values is None:
        return None
    t, c, p, pr, st, se, ex, sc, v, f, r, le, rf = values
    return TokenRow(t, c, p, pr, st, se, ex, tuple(sc), v, f, r, le, rf)


class TokenRows:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    @contextmanager
    def _transaction(self, tenant: str) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable(
                "the connection store is unavailable; retry shortly", {"retry_after": 2}
            ) from exc

    def read(self, tenant: str, connection_id: UUID) -> TokenRow | None:
        with self._transaction(tenant) as conn:
            return _row(
                conn.execute(
                    f"SELECT {_COLUMNS} FROM connection_tokens"  # noqa: S608 (constant columns)
                    " WHERE tenant_id = %s AND connection_id = %s",
                    (tenant, connection_id),
                ).fetchone()
            )

    def providers_of(self, tenant: str, person: str) -> list[str]:
        with self._transaction(tenant) as conn:
            rows = conn.execute(
                "SELECT provider FROM connection_tokens WHERE tenant_id = %s AND person_id = %s",
                (tenant, person),
            ).fetchall()
        return sorted(str(row[0]) for row in rows)

    @contextmanager
    def locked(
        self, tenant: str, connection_id: UUID
    ) -> Iterator[tuple[psycopg.Connection[Any], TokenRow | None]]:
        """The row read again under its lock, held until the block ends (and commits)."""
        with self._transaction(tenant) as conn:
            row = _row(
                conn.execute(
                    f"SELECT {_COLUMNS} FROM connection_tokens"  # noqa: S608 (constant columns)
                    " WHERE tenant_id = %s AND connection_id = %s FOR UPDATE",
                    (tenant, connection_id),
                ).fetchone()
            )
            yield conn, row

    @staticmethod
    def swap(
        conn: psycopg.Connection[Any],
        row: TokenRow,
        sealed: str,
        expires_at: datetime,
        scopes: tuple[str, ...],
    ) -> bool:
        """Compare-and-swap on `version`: False when someone wrote since `row` was read."""
        done = conn.execute(
            "UPDATE connection_tokens SET sealed = %s, expires_at = %s, scopes = %s,"
            " version = version + 1, failures = 0, retry_at = NULL, last_error = NULL,"
            " refreshed_at = now(), status = 'active'"
            " WHERE tenant_id = %s AND connection_id = %s AND version = %s RETURNING version",
            (sealed, expires_at, list(scopes), row.tenant_id, row.connection_id, row.version),
        ).fetchone()
        return done is not None

    @staticmethod
    def failed(
        conn: psycopg.Connection[Any], row: TokenRow, retry_at: datetime, error: str
    ) -> None:
        conn.execute(
            "UPDATE connection_tokens SET failures = failures + 1, retry_at = %s,"
            " last_error = %s WHERE tenant_id = %s AND connection_id = %s AND version = %s",
            (retry_at, error[:200], row.tenant_id, row.connection_id, row.version),
        )

    @staticmethod
    def dead(conn: psycopg.Connection[Any], row: TokenRow) -> bool:
        """Mark the grant dead; True only for the one call that changed it."""
        done = conn.execute(
            "UPDATE connection_tokens SET status = 'reauth_required', version = version + 1,"
            " last_error = 'invalid_grant' WHERE tenant_id = %s AND connection_id = %s"
            " AND version = %s AND status = 'active' RETURNING version",
            (row.tenant_id, row.connection_id, row.version),
        ).fetchone()
        return done is not None

    @staticmethod
    def delete(conn: psycopg.Connection[Any], tenant: str, connection_id: UUID) -> None:
        conn.execute(
            "DELETE FROM connection_tokens WHERE tenant_id = %s AND connection_id = %s",
            (tenant, connection_id),
        )

    @staticmethod
    def put(
        conn: psycopg.Connection[Any],
        key: tuple[str, UUID, str, str],
        sealed: str,
        expires_at: datetime,
        scopes: tuple[str, ...],
    ) -> None:
        tenant, connection_id, person, provider = key
        conn.execute(
            "INSERT INTO connection_tokens (tenant_id, connection_id, person_id, provider,"
            " status, sealed, expires_at, scopes) VALUES (%s, %s, %s, %s, 'active', %s, %s, %s)"
            " ON CONFLICT (tenant_id, connection_id) DO UPDATE SET status = 'active',"
            " sealed = EXCLUDED.sealed, expires_at = EXCLUDED.expires_at,"
            " scopes = EXCLUDED.scopes, version = connection_tokens.version + 1,"
            " failures = 0, retry_at = NULL, last_error = NULL, refreshed_at = now()",
            (tenant, connection_id, person, provider, sealed, expires_at, list(scopes)),
        )

    def expire(self, tenant: str, connection_id: UUID, expires_at: datetime) -> None:
        """The token that expires at `expires_at` was refused by the provider: it expires now
        (a newer token, written meanwhile, is left alone)."""
        with self._transaction(tenant) as conn:
            conn.execute(
                "UPDATE connection_tokens SET expires_at = now() WHERE tenant_id = %s"
                " AND connection_id = %s AND expires_at = %s AND expires_at > now()",
                (tenant, connection_id, expires_at),
            )
