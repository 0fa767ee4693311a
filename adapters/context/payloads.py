"""The forgettable payload store over PostgreSQL (table of migration 0070): implements
`commands.ports.context.PayloadStore` and `ContextDirectory`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from pgvector import Vector
from psycopg_pool import ConnectionPool, PoolTimeout

from commands.ports.context import Payload
from domain.errors import Unavailable

_PUT = (
    "INSERT INTO context_payloads (tenant_id, payload_id, user_id, subject, body, model, dim,"
    " embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector)"
    " ON CONFLICT (payload_id) DO NOTHING"
)
# Follows merges: a merged entity's name resolves to the entity it was merged into.
_RESOLVE = (
    "SELECT coalesce(merged_into, entity_id) FROM context_entities"
    " WHERE tenant_id = %s AND user_id = %s AND normal_name = %s"
    " ORDER BY merged_into IS NULL DESC, recognised_at LIMIT 1"
)


# The entity an address belongs to, following merges (the entity it was merged into).
_BY_EMAIL = (
    "SELECT lower(f.value) AS address, t.name FROM context_facts f"
    " JOIN context_entities e ON e.entity_id = f.entity_id"
    " JOIN context_entities t ON t.entity_id = coalesce(e.merged_into, e.entity_id)"
    " WHERE f.tenant_id = %s AND f.user_id = %s AND f.predicate = 'email'"
    " AND lower(f.value) = ANY(%s) ORDER BY f.position"
)


class ContextStoreUnavailable(Unavailable):
    code = "context_unavailable"


@contextmanager
def tenant_transaction(pool: ConnectionPool[Any], tenant_id: UUID) -> Iterator[Any]:
    try:
        with pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (str(tenant_id),))
            yield conn
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise ContextStoreUnavailable(
            "the context store is unavailable; retry shortly", {"retry_after": 2}
        ) from exc


def normal_name(name: str) -> str:
    """How names are compared: lower case, single spaces (as the projector stores them)."""
    return " ".join(name.lower().split())


def vector_text(values: Sequence[float]) -> str:
    return str(Vector(list(values)).to_text())


class PostgresPayloads:
    """Implements `PayloadStore` (and `ContextDirectory`, reading the context views)."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def put(self, tenant_id: UUID, user_id: str, payloads: Sequence[Payload]) -> None:
        rows = []
        for p in payloads:
            embedded = p.embedding
            rows.append(
                (
                    tenant_id,
                    p.payload_id,
                    user_id,
                    p.subject,
                    p.body,
                    embedded.model if embedded else None,
                    embedded.dim if embedded else None,
                    vector_text(embedded.vector) if embedded else None,
                )
            )
        with tenant_transaction(self.pool, tenant_id) as conn, conn.cursor() as cur:
            cur.executemany(_PUT, rows)

    def delete(self, tenant_id: UUID, payload_ids: Sequence[UUID]) -> int:
        with tenant_transaction(self.pool, tenant_id) as conn:
            cur = conn.execute(
                "DELETE FROM context_payloads WHERE tenant_id = %s AND payload_id = ANY(%s)",
                (tenant_id, list(payload_ids)),
            )
            return int(cur.rowcount)

    def delete_subject(self, tenant_id: UUID, subject: str) -> int:
        with tenant_transaction(self.pool, tenant_id) as conn:
            cur = conn.execute(
                "DELETE FROM context_payloads WHERE tenant_id = %s AND subject = %s",
                (tenant_id, subject),
            )
            return int(cur.rowcount)

    def memory_ids(self, tenant_id: UUID, user_id: str) -> list[UUID]:
        with tenant_transaction(self.pool, tenant_id) as conn:
            rows = conn.execute(
                "SELECT DISTINCT subject FROM context_payloads"
                " WHERE tenant_id = %s AND user_id = %s AND subject LIKE 'memory:%%'"
                " ORDER BY subject",
                (tenant_id, user_id),
            ).fetchall()
        return [UUID(str(row[0]).removeprefix("memory:")) for row in rows]

    def resolve(self, tenant_id: UUID, user_id: str, name: str) -> UUID | None:
        normal = normal_name(name)
        try:
            with tenant_transaction(self.pool, tenant_id) as conn:
                conn.execute("SET LOCAL ROLE cairn_app")
                row = conn.execute(_RESOLVE, (tenant_id, user_id, normal)).fetchone()
        except psycopg.errors.UndefinedTable:
            return None  # the view is not built yet: a new name
        return None if row is None else UUID(str(row[0]))

    def names_by_email(
        self, tenant_id: UUID, user_id: str, addresses: Sequence[str]
    ) -> dict[str, str]:
        wanted = [a.lower() for a in addresses]
        if not wanted:
            return {}
        try:
            with tenant_transaction(self.pool, tenant_id) as conn:
                conn.execute("SET LOCAL ROLE cairn_app")
                rows = conn.execute(_BY_EMAIL, (tenant_id, user_id, wanted)).fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
        found: dict[str, str] = {}
        for address, name in rows:
            found.setdefault(str(address), str(name))
        return found
