"""The re-embedding job's reads and writes over PostgreSQL: implements
`commands.ports.context.ReembedStore`. Counting every tenant's rows by model reads the view as
`cairn_owner` (whose policy sees every tenant, as the projector's does); everything else is
one tenant per transaction under row-level security."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

from adapters.context.payloads import ContextStoreUnavailable, tenant_transaction, vector_text
from commands.ports.context import Behind, Embedded

# One re-embedding process at a time across the deployment (a session advisory lock).
LOCK_KEY = zlib.crc32(b"cairn:context:reembed")

_MODELS = (
    "SELECT tenant_id, coalesce(model, '') AS model, count(*) FROM context_memories"
    " GROUP BY tenant_id, model"
)
_BEHIND = (
    "SELECT memory_id, user_id, text FROM context_memories WHERE tenant_id = %s"
    " AND model IS DISTINCT FROM %s AND (%s::uuid IS NULL OR memory_id > %s)"
    " ORDER BY memory_id LIMIT %s"
)
_STORE = (
    "UPDATE context_payloads SET model = %s, dim = %s, embedding = %s::vector"
    " WHERE tenant_id = %s AND payload_id = %s"
)


class PostgresReembedStore:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def models(self) -> dict[UUID, dict[str, int]]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SET LOCAL ROLE cairn_owner")
                rows = conn.execute(_MODELS).fetchall()
        except psycopg.errors.UndefinedTable:
            return {}  # the view is not built yet: nothing to re-embed
        except psycopg.OperationalError as exc:
            raise ContextStoreUnavailable("the context store is unavailable", {}) from exc
        found: dict[UUID, dict[str, int]] = {}
        for tenant_id, model, count in rows:
            found.setdefault(UUID(str(tenant_id)), {})[str(model)] = int(count)
        return found

    def behind(self, tenant_id: UUID, model: str, after: UUID | None, limit: int) -> list[Behind]:
        with tenant_transaction(self.pool, tenant_id) as conn:
            conn.execute("SET LOCAL ROLE cairn_app")
            rows = conn.execute(_BEHIND, (tenant_id, model, after, after, limit)).fetchall()
        return [Behind(UUID(str(m)), str(u), str(t)) for m, u, t in rows]

    def store_vectors(self, tenant_id: UUID, vectors: Sequence[tuple[UUID, Embedded]]) -> None:
        rows = [
            (v.model, v.dim, vector_text(v.vector), tenant_id, payload_id)
            for payload_id, v in vectors
        ]
        with tenant_transaction(self.pool, tenant_id) as conn, conn.cursor() as cur:
            cur.executemany(_STORE, rows)

    @contextmanager
    def turn(self) -> Iterator[bool]:
        with self.pool.connection() as conn:
            conn.autocommit = True
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            mine = bool(row and row[0])
            try:
                yield mine
            finally:
                if mine:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
                conn.autocommit = False
