"""The keeper of per-person HNSW indexes (decision 0036): a person whose memories of one model
reach the threshold gets a partial HNSW index of exactly those rows, built concurrently
(writes go on) on the active generation's table. Search uses it only once its recall@10 was
checked against the exact scan, with the smallest `ef_search` that met the goal; until then,
and for everyone below the threshold, search scans the person's rows exactly.

An index is dropped when its person falls below half the threshold (forgotten or erased
down), when its generation is no longer the active one, or when its check failed (retried
once the person holds twice as many memories). Several keepers may run: a session advisory
lock per index lets one build it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from adapters.context import ann

logger = logging.getLogger("cairn.context.indexes")

_ROWS = (
    "SELECT tenant_id, user_id, model, dim, count(*) AS n FROM {table}"
    " WHERE model IS NOT NULL AND dim IS NOT NULL AND embedding IS NOT NULL"
    " GROUP BY tenant_id, user_id, model, dim HAVING count(*) >= %s"
)
_KNOWN = (
    "SELECT index_name, generation, tenant_id, user_id, model, dim, status, rows_indexed"
    " FROM context_vector_indexes"
)


@dataclass(frozen=True)
class IndexPolicy:
    threshold: int = 20_000
    # Tried in order; the first whose checked recall@10 reaches `recall_goal` is kept.
    ef_choices: tuple[int, ...] = (64, 128, 256, 512)
    recall_goal: float = 0.97
    # Also refuse an index slower than the exact scan it would replace (tests of a few
    # thousand rows, where the two are within noise of each other, turn this off).
    faster_than_exact: bool = True
    checks: int = 20
    m: int = 16
    ef_construction: int = 64
    # The graph is built in memory when it fits: on disk the build takes many times longer.
    maintenance_work_mem: str = "1GB"


@dataclass
class Pass:
    """What one reconcile pass did (index names)."""

    ready: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _lock_key(name: str) -> int:
    """The index name's hash suffix as a signed 64-bit advisory lock key."""
    key = int(name.rsplit("_", 1)[1], 16)
    return key - 2**64 if key >= 2**63 else key


class PersonIndexKeeper:
    def __init__(self, database_url: str, policy: IndexPolicy | None = None) -> None:
        self.database_url = database_url
        self.policy = policy or IndexPolicy()

    @contextmanager
    def _owner(self) -> Iterator[psycopg.Connection[Any]]:
        # Autocommit: CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction. The role of
        # the view tables' owner, on a connection of its own (never a pooled one).
        with psycopg.connect(self.database_url, autocommit=True, prepare_threshold=None) as conn:
            conn.execute("SET ROLE cairn_owner")
            yield conn

    def reconcile(self) -> Pass:
        done = Pass()
        with self._owner() as conn:
            row = conn.execute(
                "SELECT generation FROM projection_generations"
                " WHERE projector = 'context' AND status = 'active'"
            ).fetchone()
            if row is None:
                return done
            generation = int(row[0])
            table = ann.physical_table(generation)
            half = max(1, self.policy.threshold // 2)
            counts = {
                ann.Slice(r[0], r[1], r[2], int(r[3])): int(r[4])
                for r in conn.execute(
                    psycopg.sql.SQL(_ROWS).format(table=psycopg.sql.Identifier(table)), (half,)
                )
            }
            known: set[ann.Slice] = set()
            for name, gen, tenant, user, model, dim, status, rows in conn.execute(
                _KNOWN
            ).fetchall():
                slice_ = ann.Slice(tenant, user, model, int(dim))
                now = counts.get(slice_, 0)
                stale = gen != generation or now < half
                retry = status == "rejected" and now >= 2 * rows
                if stale or retry or (status == "building" and self._unheld(conn, name)):
                    self._drop(conn, name)
                    done.dropped.append(name)
                else:
                    known.add(slice_)
            for slice_, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                if n >= self.policy.threshold and slice_ not in known:
                    self._build(conn, slice_, generation, n, done)
        return done

    def run(self, stopping: threading.Event, every_s: float = 300.0) -> None:
        """Reconcile until `stopping` is set; an error is logged and retried next time."""
        while not stopping.is_set():
            try:
                done = self.reconcile()
                if done.ready or done.rejected or done.dropped:
                    logger.info("person indexes: %s", done)
            except Exception:  # a thread that died would leave indexes unkept, silently
                logger.exception("person indexes: reconcile failed; retrying later")
            stopping.wait(every_s)

    @staticmethod
    def _unheld(conn: psycopg.Connection[Any], name: str) -> bool:
        """A 'building' row whose builder is gone (its lock is free): a leftover."""
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(name),)).fetchone()
        if row is not None and row[0]:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(name),))
            return True
        return False

    @staticmethod
    def _drop(conn: psycopg.Connection[Any], name: str) -> None:
        conn.execute(
            psycopg.sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                psycopg.sql.Identifier(name)
            )
        )
        conn.execute("DELETE FROM context_vector_indexes WHERE index_name = %s", (name,))

    def _build(
        self, conn: psycopg.Connection[Any], slice_: ann.Slice, generation: int, n: int, done: Pass
    ) -> None:
        name = slice_.index_name(generation)
        key = _lock_key(name)
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row is None or not row[0]:
            return  # another keeper builds it
        try:
            conn.execute(
                "INSERT INTO context_vector_indexes (index_name, generation, tenant_id, user_id,"
                " model, dim, status, rows_indexed) VALUES (%s, %s, %s, %s, %s, %s, 'building', %s)"
                " ON CONFLICT (index_name) DO NOTHING",
                (name, generation, slice_.tenant_id, slice_.user_id, slice_.model, slice_.dim, n),
            )
            # A leftover of a build cut short (invalid, so the planner ignores it) would make
            # IF NOT EXISTS skip the build and the check measure the exact scan.
            conn.execute(
                psycopg.sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    psycopg.sql.Identifier(name)
                )
            )
            started = time.perf_counter()
            conn.execute(
                "SELECT set_config('maintenance_work_mem', %s, false)",
                (self.policy.maintenance_work_mem,),
            )
            conn.execute(
                ann.create_index(slice_, generation, self.policy.m, self.policy.ef_construction)
            )
            build_ms = int((time.perf_counter() - started) * 1000)
            ef, recall = self._check(conn, slice_, generation)
            status = "ready" if ef is not None else "rejected"
            conn.execute(
                "UPDATE context_vector_indexes SET status = %s, ef_search = %s, recall = %s,"
                " build_ms = %s, updated_at = now() WHERE index_name = %s",
                (status, ef, recall, build_ms, name),
            )
            if ef is None:
                conn.execute(
                    psycopg.sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                        psycopg.sql.Identifier(name)
                    )
                )
                done.rejected.append(name)
            else:
                done.ready.append(name)
            logger.info(
                "person index %s: %s rows, built in %d ms, recall@10 %.3f, ef_search %s",
                name,
                n,
                build_ms,
                recall,
                ef,
            )
        except psycopg.Error:
            self._drop(conn, name)
            raise
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def _check(
        self, conn: psycopg.Connection[Any], slice_: ann.Slice, generation: int
    ) -> tuple[int | None, float]:
        """recall@10 of the index against the exact scan, leaving one out: each query is a
        random memory of the person, and that memory is not counted among its neighbours (a
        query near the person's data, as a question about something they noted is). The
        smallest ef_search that reaches the goal, if one does and answers faster than the
        exact scan did (on data without near neighbours a large ef_search can be slower)."""
        table = ann.physical_table(generation)
        sample = conn.execute(
            psycopg.sql.SQL(
                "SELECT memory_id, embedding::text FROM {} WHERE {} ORDER BY random() LIMIT %s"
            ).format(psycopg.sql.Identifier(table), slice_.predicate()),
            (self.policy.checks,),
        ).fetchall()
        started = time.perf_counter()
        truth = [self._others(conn, ann.exact(slice_, table), own, q) for own, q in sample]
        exact_s = time.perf_counter() - started
        recall = 0.0
        for ef in self.policy.ef_choices:
            hits = 0
            started = time.perf_counter()
            conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef),))
            for (own, query), expected in zip(sample, truth, strict=True):
                found = self._others(conn, ann.nearest(slice_, table), own, query)
                hits += len(set(expected) & set(found))
            faster = time.perf_counter() - started < exact_s or not self.policy.faster_than_exact
            recall = hits / max(1, sum(len(t) for t in truth))
            if recall >= self.policy.recall_goal:
                return (ef, recall) if faster else (None, recall)
        return None, recall

    @staticmethod
    def _others(
        conn: psycopg.Connection[Any], query: psycopg.sql.Composed, own: UUID, vector: str
    ) -> list[UUID]:
        """The 10 nearest to `vector` other than the memory `own` it was taken from."""
        rows = conn.execute(query, {"vector": vector, "n": 11}).fetchall()
        return [r[0] for r in rows if r[0] != own][:10]


def keep_in_background(
    database_url: str, policy: IndexPolicy, stopping: threading.Event, every_s: float = 300.0
) -> threading.Thread:
    """A daemon thread reconciling every `every_s` seconds until `stopping` is set. A build
    cut short by the process ending leaves an invalid index, dropped on the next pass."""
    keeper = PersonIndexKeeper(database_url, policy)
    thread = threading.Thread(
        target=keeper.run, args=(stopping, every_s), name="cairn-context-indexes", daemon=True
    )
    thread.start()
    return thread
