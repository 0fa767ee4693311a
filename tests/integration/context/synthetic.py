"""Synthetic memories written straight into the active generation of the context view (no
events: the recall test and the benchmark need thousands of rows fast), and brute-force
nearest neighbours to compare search with. Also used by tests/benchmarks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
from psycopg import sql

from projections.engine import generations
from projections.engine.projector_base import physical_table
from projections.views.context.projector import Context

MODEL = "test/random-384"
DIM = 384


def unit_vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: np.ndarray = vectors / norms
    return result


def clustered_vectors(
    rng: np.random.Generator, n: int, centres: np.ndarray, spread: float = 0.6
) -> np.ndarray:
    """Unit vectors around topic centres (real embeddings gather by topic; uniform random
    ones in 384-d have no near neighbours to find, the worst case for any index)."""
    picked = centres[rng.integers(0, len(centres), n)]
    noise = rng.standard_normal((n, centres.shape[1])).astype(np.float32)
    vectors = picked + noise * (spread / np.sqrt(centres.shape[1]))
    result: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return result


def as_text(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector) + "]"


@dataclass
class Person:
    tenant_id: UUID
    user_id: str
    ids: list[UUID]
    vectors: np.ndarray

    def nearest(self, query: np.ndarray, k: int) -> list[UUID]:
        """Exact top k by cosine distance (the vectors are unit length), ties by id."""
        if not self.ids:
            return []
        scores = self.vectors @ query
        order = sorted(range(len(self.ids)), key=lambda i: (-float(scores[i]), str(self.ids[i])))
        return [self.ids[i] for i in order[:k]]


@contextmanager
def admin(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as conn:
        yield conn


def active_generation(database_url: str) -> int:
    with admin(database_url) as conn:
        return generations.ensure_active(conn, Context, "synthetic").generation


def insert_person(
    database_url: str,
    generation: int,
    rng: np.random.Generator,
    n: int,
    *,
    tenant_id: UUID | None = None,
    texts: dict[int, str] | None = None,
    batch: int = 2000,
    vectors: np.ndarray | None = None,
) -> Person:
    """`n` memories of one new person: random unit vectors (or `vectors`), text "memory <i>"
    (or `texts`)."""
    person = Person(
        tenant_id or uuid.uuid4(),
        f"user-{uuid.uuid4().hex[:8]}",
        [],
        unit_vectors(rng, n) if vectors is None else vectors,
    )
    table = sql.Identifier(physical_table("context_memories", generation))
    query = sql.SQL(
        "INSERT INTO {} (tenant_id, user_id, memory_id, kind, text, search, model, dim,"
        " embedding, noted_at, updated_at, position)"
        " SELECT %s, %s, m, 'note', t, to_tsvector('simple', t), %s, %s, e::vector, now(),"
        " now(), 1 FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS u(m, t, e)"
    ).format(table)
    texts = texts or {}
    with admin(database_url) as conn:
        for start in range(0, n, batch):
            ids = [uuid.uuid4() for _ in range(start, min(n, start + batch))]
            words = [texts.get(start + i, f"memory {start + i}") for i in range(len(ids))]
            embedded = [as_text(person.vectors[start + i]) for i in range(len(ids))]
            conn.execute(
                query, (person.tenant_id, person.user_id, MODEL, DIM, ids, words, embedded)
            )
            person.ids.extend(ids)
    return person


def add_hnsw(database_url: str, generation: int) -> None:
    """The index that filters after its scan: present, it must not decide recall."""
    table = physical_table("context_memories", generation)
    with admin(database_url) as conn:
        conn.execute(
            sql.SQL(
                "CREATE INDEX {} ON {} USING hnsw ((embedding::vector(384)) vector_cosine_ops)"
            ).format(sql.Identifier(f"{table}_hnsw"), sql.Identifier(table))
        )
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


def hnsw_filtered(database_url: str, person: Person, query: np.ndarray, k: int) -> list[UUID]:
    """What a global HNSW index gives when the person filter is applied after its scan."""
    with admin(database_url) as conn:
        rows = conn.execute(
            "SELECT memory_id FROM context_memories WHERE tenant_id = %s AND user_id = %s"
            " ORDER BY embedding::vector(384) <=> %s::vector(384) LIMIT %s",
            (person.tenant_id, person.user_id, as_text(query), k),
        ).fetchall()
    return [r[0] for r in rows]
