"""Recall and isolation of vector search under tenant and person filtering: two persons with
5,000 synthetic memories each (each with their own "Sarah"), a global HNSW index present,
50 queries each: recall@10 against a brute-force scan of that person's rows, and never a row
of the other person. Also a person with no memory and one with one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from psycopg_pool import ConnectionPool

from adapters.context.search import _NEAREST as NEAREST
from adapters.context.search import ContextSearch
from commands.ports.context import Embedded
from tests.integration.context.synthetic import (
    MODEL,
    Person,
    active_generation,
    add_hnsw,
    insert_person,
    unit_vectors,
)

pytestmark = pytest.mark.integration

PER_PERSON = int(os.environ.get("CAIRN_CONTEXT_RECALL_ROWS", "5000"))
QUERIES = 50


class _QueryOnly:
    """An embedder that answers one fixed vector (the test's query)."""

    model = MODEL

    def __init__(self) -> None:
        self.vector: tuple[float, ...] = ()

    def passages(self, texts: Any) -> list[Embedded]:
        raise AssertionError("not used")

    def query(self, text: str) -> Embedded:
        return Embedded(MODEL, self.vector)


@pytest.fixture
def database(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def pool(database: str) -> Iterator[ConnectionPool[Any]]:
    with ConnectionPool(
        database, min_size=1, open=True, kwargs={"autocommit": False, "prepare_threshold": None}
    ) as found:
        yield found


def _vector(v: np.ndarray) -> Embedded:
    return Embedded(MODEL, tuple(float(x) for x in v))


@pytest.mark.long(14)
def test_exact_recall_within_each_person_with_an_hnsw_index_present(
    database: str, pool: ConnectionPool[Any]
) -> None:
    rng = np.random.default_rng(16)
    generation = active_generation(database)
    tenant = uuid.uuid4()
    ada = insert_person(
        database,
        generation,
        rng,
        PER_PERSON,
        tenant_id=tenant,
        texts={7: "Sarah Lee is my dentist, sarah@smile.example"},
    )
    bob = insert_person(
        database,
        generation,
        rng,
        PER_PERSON,
        tenant_id=tenant,
        texts={11: "Sarah Khan is my boss, sarah.khan@work.example"},
    )
    add_hnsw(database, generation)
    search = ContextSearch(pool, _QueryOnly())
    for person, other in ((ada, bob), (bob, ada)):
        mine, theirs = set(person.ids), set(other.ids)
        recalls = []
        for query in unit_vectors(rng, QUERIES):
            found = search.nearest(person.tenant_id, person.user_id, _vector(query), 10)
            assert set(found) <= {str(i) for i in mine}
            assert not {str(i) for i in theirs} & set(found)
            truth = {str(i) for i in person.nearest(query, 10)}
            recalls.append(len(truth & set(found)) / 10)
        assert sum(recalls) / len(recalls) >= 0.95, recalls
    # The plan is an exact scan of the person's rows: the HNSW index is never chosen.
    with pool.connection() as conn:
        plan = conn.execute(
            "EXPLAIN " + NEAREST,
            {
                "tenant": tenant,
                "user": ada.user_id,
                "as_of": None,
                "known": 2**63 - 1,
                "model": MODEL,
                "vector": "[" + ",".join(["0.05"] * 384) + "]",
                "n": 10,
            },
        ).fetchall()
    assert "hnsw" not in " ".join(r[0] for r in plan).lower()
    # Full text sees each person's own Sarah only.
    embedder = _QueryOnly()
    embedder.vector = tuple(float(x) for x in unit_vectors(rng, 1)[0])
    hybrid = ContextSearch(pool, embedder)
    for person, own, others in ((ada, "Sarah Lee", "Sarah Khan"), (bob, "Sarah Khan", "Sarah Lee")):
        hits = hybrid.search(tenant, person.user_id, "Sarah", limit=5)
        texts = [h.text for h in hits if "full_text" in h.matched_by]
        assert len(texts) == 1 and texts[0].startswith(own)
        assert not any(others in h.text for h in hits)
        assert all(h.id in {str(i) for i in person.ids} for h in hits)


def test_a_person_with_no_memory_or_one(database: str, pool: ConnectionPool[Any]) -> None:
    rng = np.random.default_rng(17)
    generation = active_generation(database)
    insert_person(database, generation, rng, 200)  # someone else's rows
    nobody = Person(uuid.uuid4(), "nobody", [], unit_vectors(rng, 0))
    one = insert_person(database, generation, rng, 1)
    add_hnsw(database, generation)
    search = ContextSearch(pool, _QueryOnly())
    query = _vector(unit_vectors(rng, 1)[0])
    assert search.nearest(nobody.tenant_id, nobody.user_id, query, 10) == []
    assert search.nearest(one.tenant_id, one.user_id, query, 10) == [str(one.ids[0])]


class _Counting(_QueryOnly):
    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    def query(self, text: str) -> Embedded:
        self.queries += 1
        return super().query(text)


def test_a_person_nothing_is_known_of_costs_no_embedding(
    database: str, pool: ConnectionPool[Any]
) -> None:
    rng = np.random.default_rng(18)
    generation = active_generation(database)
    one = insert_person(database, generation, rng, 1)
    embedder = _Counting()
    embedder.vector = tuple(float(x) for x in unit_vectors(rng, 1)[0])
    search = ContextSearch(pool, embedder)
    assert search.search(uuid.uuid4(), "nobody", "email Sarah that I'm late") == []
    assert embedder.queries == 0
    search.search(one.tenant_id, one.user_id, "email Sarah that I'm late")
    assert embedder.queries == 1
