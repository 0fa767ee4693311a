"""The SQL a per-person HNSW index and its query share (decision 0036).

A partial index serves a query only if the planner can prove the query's WHERE implies the
index's predicate, which it does for the same constants, not for parameters of a generic plan:
the person, the model and the dimension are written into both as literals, by the functions
below and nowhere else. The ordering expression (`embedding::vector(<dim>)`) is the index's
expression too: the column has no fixed dimension (rows of several models coexist), and HNSW
indexes only a typed one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from psycopg import sql

TABLE = "context_memories"


@dataclass(frozen=True)
class Slice:
    """One person's memories embedded by one model: what one index holds."""

    tenant_id: UUID
    user_id: str
    model: str
    dim: int

    def index_name(self, generation: int) -> str:
        """Unique per generation and slice, within PostgreSQL's 63 characters."""
        key = f"{self.tenant_id}|{self.user_id}|{self.model}|{self.dim}".encode()
        return f"{physical_table(generation)}_ann_{hashlib.sha256(key).hexdigest()[:16]}"

    def predicate(self) -> sql.Composed:
        return sql.SQL("tenant_id = {}::uuid AND user_id = {} AND model = {} AND dim = {}").format(
            sql.Literal(str(self.tenant_id)),
            sql.Literal(self.user_id),
            sql.Literal(self.model),
            sql.Literal(self.dim),
        )

    def typed(self) -> sql.Composed:
        return sql.SQL("embedding::vector({})").format(sql.Literal(self.dim))


def physical_table(generation: int) -> str:
    """`context_memories__g<n>`: the engine's naming (adapters do not import projections)."""
    return f"{TABLE}__g{generation}"


def create_index(slice_: Slice, generation: int, m: int, ef_construction: int) -> sql.Composed:
    return sql.SQL(
        "CREATE INDEX CONCURRENTLY {name} ON {table} USING hnsw (({typed})"
        " vector_cosine_ops) WITH (m = {m}, ef_construction = {efc}) WHERE {predicate}"
    ).format(
        name=sql.Identifier(slice_.index_name(generation)),
        table=sql.Identifier(physical_table(generation)),
        typed=slice_.typed(),
        m=sql.Literal(m),
        efc=sql.Literal(ef_construction),
        predicate=slice_.predicate(),
    )


def nearest(slice_: Slice, table: str = TABLE) -> sql.Composed:
    """The `n` nearest of the slice to `%(vector)s`, through its index if one is valid (else
    the planner scans the person's rows exactly). No tie-break column: an extra sort key would
    keep the planner from the index's order."""
    return sql.SQL(
        "SELECT memory_id FROM {table} WHERE {predicate}"
        " ORDER BY {typed} <=> %(vector)s::vector({dim}) LIMIT %(n)s"
    ).format(
        table=sql.Identifier(table),
        predicate=slice_.predicate(),
        typed=slice_.typed(),
        dim=sql.Literal(slice_.dim),
    )


def exact(slice_: Slice, table: str) -> sql.Composed:
    """The exact answer, which no HNSW index can serve (its expression is not the index's)."""
    return sql.SQL(
        "SELECT memory_id FROM {table} WHERE {predicate}"
        " ORDER BY embedding <=> %(vector)s::vector, memory_id LIMIT %(n)s"
    ).format(table=sql.Identifier(table), predicate=slice_.predicate())
