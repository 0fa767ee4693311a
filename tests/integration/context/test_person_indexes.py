"""Per-person HNSW indexes (decision 0036), with the threshold lowered to 1,000 memories: the
keeper builds and checks one index per person above it, search goes through that person's
index (the plan names it, a global HNSW index present is not chosen), recall@10 >= 0.95
against a brute-force scan of the person's rows, never a row of the other person; a person
below the threshold and an index not checked yet are served by the exact scan; forgetting a
person down below half the threshold drops the index."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from adapters.context import ann
from adapters.context.indexes import IndexPolicy, PersonIndexKeeper, keep_in_background
from adapters.context.search import ContextSearch, person_reader
from commands.ports.context import Embedded
from tests.integration.context.synthetic import (
    DIM,
    MODEL,
    Person,
    active_generation,
    add_hnsw,
    admin,
    clustered_vectors,
    insert_person,
    unit_vectors,
)

pytestmark = pytest.mark.integration

THRESHOLD = 1_000
# At a few thousand rows the index and the exact scan are within noise of each other: the
# keeper's speed condition would make these tests depend on the machine's load.
POLICY = IndexPolicy(threshold=THRESHOLD, faster_than_exact=False)
QUERIES = 50


class _QueryOnly:
    model = MODEL

    def passages(self, texts: Any) -> list[Embedded]:
        raise AssertionError("not used")

    def query(self, text: str) -> Embedded:
        raise AssertionError("not used")


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


def _slice(person: Person) -> ann.Slice:
    return ann.Slice(person.tenant_id, person.user_id, MODEL, DIM)


def _plan(pool: ConnectionPool[Any], person: Person) -> str:
    """The plan of the indexed query as search runs it: as cairn_app, under the tenant policy."""
    query = sql.SQL("EXPLAIN ") + ann.nearest(_slice(person))
    with person_reader(pool, person.tenant_id) as cur:
        rows = cur.execute(query, {"vector": "[" + ",".join(["0.05"] * DIM) + "]", "n": 10})
        return " ".join(r["QUERY PLAN"] for r in rows.fetchall())


def _recall(search: ContextSearch, person: Person, other: Person, queries: np.ndarray) -> float:
    theirs = {str(i) for i in other.ids}
    recalls = []
    for query in queries:
        found = search.nearest(person.tenant_id, person.user_id, _vector(query), 10)
        assert len(found) == min(10, len(person.ids))
        assert not theirs & set(found)
        truth = {str(i) for i in person.nearest(query, 10)}
        recalls.append(len(truth & set(found)) / len(truth))
    return sum(recalls) / len(recalls)


def test_search_goes_through_each_persons_checked_index(
    database: str, pool: ConnectionPool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(36)
    centres = unit_vectors(rng, 40)
    generation = active_generation(database)
    tenant = uuid.uuid4()

    def person(n: int) -> Person:
        vectors = clustered_vectors(rng, n, centres)
        return insert_person(database, generation, rng, n, tenant_id=tenant, vectors=vectors)

    ada, bob, cy = person(1_500), person(1_500), person(300)
    add_hnsw(database, generation)  # a global index filtered after its scan: never chosen
    keeper = PersonIndexKeeper(database, POLICY)
    done = keeper.reconcile()
    names = {p.user_id: _slice(p).index_name(generation) for p in (ada, bob, cy)}
    assert sorted(done.ready) == sorted([names[ada.user_id], names[bob.user_id]])
    assert keeper.reconcile().ready == []  # built once

    for p in (ada, bob):
        assert names[p.user_id] in _plan(pool, p)
    assert "_ann_" not in _plan(pool, cy)  # no index of its own: search scans exactly

    asked: list[ann.Slice] = []
    indexed = ann.nearest

    def counting(slice_: ann.Slice, table: str = ann.TABLE) -> sql.Composed:
        asked.append(slice_)
        return indexed(slice_, table)

    monkeypatch.setattr(ann, "nearest", counting)
    search = ContextSearch(pool, _QueryOnly())
    queries = clustered_vectors(rng, QUERIES, centres)
    for p, other in ((ada, bob), (bob, ada), (cy, ada)):
        assert _recall(search, p, other, queries) >= 0.95
    assert {s.user_id for s in asked} == {ada.user_id, bob.user_id}

    # While an index is not checked (being built), search scans exactly.
    with admin(database) as conn:
        conn.execute(
            "UPDATE context_vector_indexes SET status = 'building' WHERE user_id = %s",
            (ada.user_id,),
        )
    asked.clear()
    assert _recall(search, ada, bob, queries[:5]) == 1.0
    assert asked == []


def test_forgetting_a_person_down_drops_their_index(
    database: str, pool: ConnectionPool[Any]
) -> None:
    rng = np.random.default_rng(37)
    centres = unit_vectors(rng, 20)
    generation = active_generation(database)
    ada = insert_person(
        database, generation, rng, 1_200, vectors=clustered_vectors(rng, 1_200, centres)
    )
    keeper = PersonIndexKeeper(database, POLICY)
    name = _slice(ada).index_name(generation)
    assert keeper.reconcile().ready == [name]

    gone, kept = ada.ids[:800], ada.ids[800:]
    with admin(database) as conn:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE memory_id = ANY(%s)").format(
                sql.Identifier(ann.physical_table(generation))
            ),
            (gone,),
        )
    assert keeper.reconcile().dropped == [name]
    with admin(database) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM context_vector_indexes").fetchone() == (0,)
    search = ContextSearch(pool, _QueryOnly())
    query = _vector(clustered_vectors(rng, 1, centres)[0])
    found = search.nearest(ada.tenant_id, ada.user_id, query, 10)
    assert set(found) <= {str(i) for i in kept} and len(found) == 10


def test_an_index_that_misses_the_recall_goal_is_not_used(database: str) -> None:
    rng = np.random.default_rng(38)
    generation = active_generation(database)
    insert_person(database, generation, rng, 1_100)  # uniform random: no near neighbours
    keeper = PersonIndexKeeper(
        database, IndexPolicy(threshold=THRESHOLD, ef_choices=(10,), recall_goal=1.01)
    )
    done = keeper.reconcile()
    assert len(done.rejected) == 1 and done.ready == []
    with psycopg.connect(database, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (done.rejected[0],)).fetchone() == (None,)
        status = conn.execute("SELECT status FROM context_vector_indexes").fetchall()
    assert status == [("rejected",)]
    assert keeper.reconcile().ready == []  # not retried before the person doubles


def test_the_keeper_runs_in_the_background_until_stopped(database: str) -> None:
    rng = np.random.default_rng(39)
    generation = active_generation(database)
    centres = unit_vectors(rng, 20)
    ada = insert_person(
        database, generation, rng, 1_100, vectors=clustered_vectors(rng, 1_100, centres)
    )
    stopping = threading.Event()
    thread = keep_in_background(database, POLICY, stopping, 0.2)
    status: list[tuple[str]] = []
    deadline = time.monotonic() + 120
    while status != [("ready",)] and time.monotonic() < deadline:
        time.sleep(0.2)
        with admin(database) as conn:
            status = conn.execute(
                "SELECT status FROM context_vector_indexes WHERE user_id = %s", (ada.user_id,)
            ).fetchall()
    stopping.set()
    thread.join(60)
    assert status == [("ready",)]
    assert not thread.is_alive()
