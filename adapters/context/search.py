"""Hybrid search of one person's context: full text + vector + one hop of the graph, fused by
reciprocal rank (RRF). Reads the context views as `cairn_app`, one tenant per transaction, and
always within one person's rows.

The vector part scans the person's rows exactly (decision 0026), unless the person has a
per-person HNSW index whose recall was checked (decision 0036, adapters/context/indexes.py):
then it asks that index, with the checked `ef_search`. Either way only the person's rows are
read, so recall never depends on how many rows other people hold; an index someone else adds
is never asked (the exact query's `embedding <=> q` matches no HNSW expression, and the
indexed query runs only for a person the keeper recorded as checked).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.context import ann
from adapters.context.payloads import ContextStoreUnavailable, vector_text
from commands.ports.context import CurrentFact, Embedded, Embedder, EmbedderChoice, Hit

RRF_K = 60
CANDIDATES = 50
_FOREVER = 2**63 - 1

_PERSON = "tenant_id = %(tenant)s AND user_id = %(user)s"
_KNOWN = " AND (%(as_of)s::timestamptz IS NULL OR noted_at <= %(as_of)s) AND position <= %(known)s"
# Any of the query's words (OR), ranked: a request ("email Sarah that I'm late") rarely has
# all its words in one memory or name.
_ANY_WORD = (
    "to_tsquery('simple', array_to_string(ARRAY(SELECT quote_literal(w)"
    " FROM unnest(%(words)s::text[]) w), ' | '))"
)
_FULL_TEXT = (
    "SELECT memory_id FROM context_memories WHERE "  # noqa: S608 (constants of this module only)
    + _PERSON
    + _KNOWN
    + " AND search @@ "
    + _ANY_WORD
    + " ORDER BY ts_rank(search, "
    + _ANY_WORD
    + ") DESC, memory_id LIMIT %(n)s"
)
_NEAREST = (
    "SELECT memory_id FROM context_memories WHERE "  # noqa: S608 (constants of this module only)
    + _PERSON
    + _KNOWN
    + " AND model = %(model)s ORDER BY embedding <=> %(vector)s::vector, memory_id LIMIT %(n)s"
)
# The person's checked index on the active generation, if any (decision 0036), and its
# ef_search set for this transaction in the same round trip.
_INDEXED = (
    "SELECT set_config('hnsw.ef_search', ef_search::text, true) FROM context_vector_indexes"
    " WHERE tenant_id = %(tenant)s"
    " AND user_id = %(user)s AND model = %(model)s AND dim = %(dim)s AND status = 'ready'"
    " AND generation = (SELECT generation FROM projection_generations"
    " WHERE projector = 'context' AND status = 'active')"
)
_ENTITIES = (
    "SELECT DISTINCT coalesce(merged_into, entity_id) AS entity_id FROM context_entities"  # noqa: S608 (constants of this module only)
    " WHERE " + _PERSON + " AND position <= %(known)s AND (normal_name = %(normal)s"
    " OR to_tsvector('simple', name) @@ " + _ANY_WORD + ")"
)
# Whether the person is known at all: without a memory or an entity there is nothing to search,
# and embedding the text costs ~25 ms of CPU on every plan of a person who never noted a thing.
_KNOWS_ANYTHING = (
    "(SELECT 1 FROM context_memories WHERE " + _PERSON + " LIMIT 1) UNION ALL"  # noqa: S608 (constants of this module only)
    " (SELECT 1 FROM context_entities WHERE " + _PERSON + " LIMIT 1) LIMIT 1"
)
# One hop: memories that taught facts about the entities, and entities taught by memories.
_MEMORIES_OF = (
    "SELECT DISTINCT source_memory_id AS memory_id FROM context_facts WHERE "  # noqa: S608 (constants of this module only)
    + _PERSON
    + " AND entity_id = ANY(%(ids)s::uuid[]) AND source_memory_id IS NOT NULL"
)
_ENTITIES_OF = (
    "SELECT DISTINCT coalesce(e.merged_into, e.entity_id) AS entity_id FROM context_facts f"
    " JOIN context_entities e ON e.entity_id = f.entity_id WHERE f.tenant_id = %(tenant)s"
    " AND f.user_id = %(user)s AND f.source_memory_id = ANY(%(ids)s::uuid[])"
)
_MEMORY_ROWS = (
    "SELECT memory_id, kind, text, noted_at FROM context_memories WHERE "  # noqa: S608 (constants of this module only)
    + _PERSON
    + _KNOWN
    + " AND memory_id = ANY(%(ids)s::uuid[])"
)
_CURRENT_FACTS = (
    "SELECT f.fact_id, coalesce(e.merged_into, e.entity_id) AS entity_id, f.predicate, f.value,"
    " (SELECT name FROM context_entities n"
    "  WHERE n.entity_id = coalesce(e.merged_into, e.entity_id)) AS entity_name"
    " FROM context_facts f JOIN context_entities e ON e.entity_id = f.entity_id"
    " WHERE f.tenant_id = %(tenant)s AND f.user_id = %(user)s"
    " AND coalesce(e.merged_into, e.entity_id) = ANY(%(ids)s::uuid[])"
    " AND f.valid_from <= now() AND (f.valid_to IS NULL OR f.valid_to > now())"
    " ORDER BY f.position, f.fact_id"
)
_ENTITY_ROWS = (
    "SELECT entity_id, kind, name FROM context_entities WHERE "  # noqa: S608 (constants of this module only)
    + _PERSON
    + " AND position <= %(known)s AND entity_id = ANY(%(ids)s::uuid[])"
)


def fuse(
    rankings: dict[str, Sequence[str]], k: int = RRF_K
) -> list[tuple[str, float, tuple[str, ...]]]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) to the keys it ranks."""
    scores: dict[str, float] = {}
    sources: dict[str, list[str]] = {}
    for name, ranked in rankings.items():
        for rank, key in enumerate(ranked, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            sources.setdefault(key, []).append(name)
    ordered = sorted(scores, key=lambda key: (-scores[key], key))
    return [(key, scores[key], tuple(sources[key])) for key in ordered]


def words(text: str) -> list[str]:
    """The query's distinct words, lower case, at most 32."""
    return list(dict.fromkeys(w.lower() for w in re.findall(r"\w{2,}", text)))[:32]


_READER = sql.SQL(
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL ROLE {};"
    " SELECT set_config('cairn.tenant_id', {}, true)"
)


@contextmanager
def person_reader(
    pool: ConnectionPool[Any], tenant_id: UUID, role: str = "cairn_app"
) -> Iterator[Any]:
    """A read-only transaction as `role` (`cairn_app`, or `cairn_planner` for a plan's read
    that carries the vault's sealed rows, migration 0112) with the tenant set."""
    try:
        with (
            pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=dict_row) as cur,
        ):
            # One round trip (a simple-protocol batch, never prepared): on a loaded machine
            # each trip waits for the server process to be scheduled.
            reader = _READER.format(sql.Identifier(role), sql.Literal(str(tenant_id)))
            cur.execute(reader, prepare=False)
            yield cur
    except psycopg.errors.UndefinedTable as exc:
        raise ContextStoreUnavailable(
            "the context view is not built yet: start its projector", {"retry_after": 2}
        ) from exc
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise ContextStoreUnavailable(
            "the context store is unavailable; retry shortly", {"retry_after": 2}
        ) from exc


def _ids(cur: Any, query: str | sql.Composed, params: dict[str, Any], column: str) -> list[str]:
    return [str(row[column]) for row in cur.execute(query, params).fetchall()]


def _nearest(cur: Any, params: dict[str, Any], vector: Embedded) -> list[str]:
    """The person's nearest memories: through their checked index when they have one and the
    question is about now (an index filtered by time after its scan would lose recall), else
    the exact scan. Adds the vector's model and text to `params`."""
    dim = len(vector.vector)
    params.update(model=vector.model, dim=dim, vector=vector_text(vector.vector))
    about_now = params["as_of"] is None and params["known"] == _FOREVER
    if about_now and cur.execute(_INDEXED, params).fetchone() is not None:
        slice_ = ann.Slice(params["tenant"], params["user"], vector.model, dim)
        return _ids(cur, ann.nearest(slice_), params, "memory_id")
    return _ids(cur, _NEAREST, params, "memory_id")


class ContextSearch:
    """Implements `commands.ports.context.ContextSearch`."""

    def __init__(
        self, pool: ConnectionPool[Any], embedder: Embedder, choice: EmbedderChoice | None = None
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        # The tenant's own embedding model (CAIRN_EMBEDDING_MODEL), if chosen per tenant.
        self.choice = choice

    def nearest(self, tenant_id: UUID, user_id: str, vector: Embedded, limit: int) -> list[str]:
        """The exact nearest memories of one person (the vector part alone: benchmarks)."""
        params = self._params(tenant_id, user_id, "", None, None, limit)
        with person_reader(self.pool, tenant_id) as cur:
            return _nearest(cur, params, vector)

    @staticmethod
    def _params(
        tenant_id: UUID,
        user_id: str,
        text: str,
        as_of: datetime | None,
        known_as_of: int | None,
        limit: int,
    ) -> dict[str, Any]:
        return {
            "tenant": tenant_id,
            "user": user_id,
            "q": text,
            "words": words(text),
            "normal": " ".join(text.lower().split()),
            "as_of": as_of,
            "known": known_as_of if known_as_of is not None else _FOREVER,
            "n": limit,
        }

    def search(
        self,
        tenant_id: UUID,
        user_id: str,
        text: str,
        *,
        as_of: datetime | None = None,
        known_as_of: int | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        params = self._params(tenant_id, user_id, text, as_of, known_as_of, CANDIDATES)
        with person_reader(self.pool, tenant_id) as cur:
            if cur.execute(_KNOWS_ANYTHING, params).fetchone() is None:
                return []
            embedder = self.choice.for_tenant(tenant_id) if self.choice else self.embedder
            nearest = _nearest(cur, params, embedder.query(text))
            full_text = _ids(cur, _FULL_TEXT, params, "memory_id")
            named = _ids(cur, _ENTITIES, params, "entity_id")
            hop_memories = _ids(cur, _MEMORIES_OF, {**params, "ids": named}, "memory_id")
            top = list(dict.fromkeys(full_text[:5] + nearest[:5]))
            hop_entities = _ids(cur, _ENTITIES_OF, {**params, "ids": top}, "entity_id")
            fused = fuse(
                {
                    "full_text": [f"memory:{m}" for m in full_text],
                    "vector": [f"memory:{m}" for m in nearest],
                    "name": [f"entity:{e}" for e in named],
                    "graph": [f"memory:{m}" for m in hop_memories]
                    + [f"entity:{e}" for e in hop_entities],
                }
            )[:limit]
            return self._hits(cur, params, fused)

    def current_facts(
        self, tenant_id: UUID, user_id: str, entity_ids: Sequence[str]
    ) -> list[CurrentFact]:
        params = {"tenant": tenant_id, "user": user_id, "ids": list(entity_ids)}
        with person_reader(self.pool, tenant_id) as cur:
            rows = cur.execute(_CURRENT_FACTS, params).fetchall()
        return [
            CurrentFact(
                r["fact_id"], str(r["entity_id"]), r["entity_name"], r["predicate"], r["value"]
            )
            for r in rows
        ]

    def _hits(
        self, cur: Any, params: dict[str, Any], fused: list[tuple[str, float, tuple[str, ...]]]
    ) -> list[Hit]:
        memory_ids = [key.split(":", 1)[1] for key, _, _ in fused if key.startswith("memory:")]
        entity_ids = [key.split(":", 1)[1] for key, _, _ in fused if key.startswith("entity:")]
        rows: dict[str, dict[str, Any]] = {}
        for row in cur.execute(_MEMORY_ROWS, {**params, "ids": memory_ids}).fetchall():
            rows[f"memory:{row['memory_id']}"] = {"text": row["text"], "kind": row["kind"]}
        for row in cur.execute(_ENTITY_ROWS, {**params, "ids": entity_ids}).fetchall():
            rows[f"entity:{row['entity_id']}"] = {"text": row["name"], "kind": row["kind"]}
        hits = []
        for key, score, sources in fused:
            row = rows.get(key)
            if row is None:
                continue  # filtered out by as_of / known_as_of after the hop
            kind, ident = key.split(":", 1)
            hits.append(
                Hit(kind, ident, row["text"], round(score, 6), sources, {"kind": row["kind"]})
            )
        return hits
