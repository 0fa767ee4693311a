"""Queries of the context views: the person's memories, and one entity with its neighbourhood
and its facts as valid at `as_of` and as known at `known_as_of` (a store position)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.errors import NotFound
from projections.engine.pages import Page, by_time_and_id, keyset_page
from projections.engine.view_reads import current_position, tenant_reader, wait_for

__all__ = ["CONTEXT", "embedding_models", "get_entity", "list_memories", "wait_for"]

CONTEXT = "context"
_FOREVER = 2**63 - 1
_NEWEST_FIRST = by_time_and_id("noted_at", "memory_id", descending=True)


def list_memories(
    pool: ConnectionPool[Any],
    tenant_id: UUID,
    user_id: str,
    *,
    after: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The person's memories, newest first."""
    query = (
        "SELECT memory_id, kind, text, noted_at, updated_at, model, dim FROM context_memories"
        " WHERE tenant_id = %s AND user_id = %s"
    )
    return keyset_page(
        pool,
        tenant_id,
        CONTEXT,
        query,
        [tenant_id, user_id],
        _NEWEST_FIRST,
        after=after,
        cursor=cursor,
        limit=limit,
    )


def embedding_models(
    pool: ConnectionPool[Any], tenant_id: UUID, user_id: str
) -> tuple[dict[str, int], int]:
    """The person's memories counted by the model of their vector, and the view's position."""
    with tenant_reader(pool, tenant_id) as cur:
        rows = cur.execute(
            "SELECT coalesce(model, '') AS model, count(*) AS n FROM context_memories"
            " WHERE tenant_id = %s AND user_id = %s GROUP BY model ORDER BY model",
            (tenant_id, user_id),
        ).fetchall()
        position = current_position(cur.connection, CONTEXT)
    return {r["model"]: int(r["n"]) for r in rows}, position or 0


_ENTITY = (
    "SELECT entity_id, kind, name, merged_into, recognised_at FROM context_entities"
    " WHERE tenant_id = %s AND user_id = %s AND entity_id = %s"
)
_ALIASES = (
    "SELECT entity_id, name FROM context_entities WHERE tenant_id = %s AND user_id = %s"
    " AND merged_into = %s ORDER BY recognised_at, entity_id"
)
# Facts of the entity and of those merged into it, bi-temporal: recorded at or before
# `known`, their end of validity as known then (the last closure at or before it, else the
# end they were recorded with), valid at `as_of`.
_FACTS = (
    "SELECT f.fact_id, f.entity_id, f.predicate, f.value, f.valid_from, f.source_memory_id,"
    " f.source_event, f.position,"
    " CASE WHEN c.found THEN c.valid_to ELSE f.initial_valid_to END AS valid_to"
    " FROM context_facts f LEFT JOIN LATERAL (SELECT true AS found, x.valid_to"
    "  FROM context_fact_closures x WHERE x.fact_id = f.fact_id AND x.position <= %(known)s"
    "  ORDER BY x.position DESC LIMIT 1) c ON true"
    " WHERE f.tenant_id = %(tenant)s AND f.user_id = %(user)s AND f.entity_id = ANY(%(ids)s)"
    " AND f.position <= %(known)s"
)
_VALID_AT = (
    "SELECT * FROM (" + _FACTS + ") v WHERE v.valid_from <= %(at)s"  # noqa: S608 (constants of this module only)
    " AND (v.valid_to IS NULL OR v.valid_to > %(at)s) ORDER BY v.predicate, v.valid_from"
)
_HISTORY = "SELECT * FROM (" + _FACTS + ") v ORDER BY v.predicate, v.valid_from, v.fact_id"  # noqa: S608 (constants of this module only)
_MEMORIES = (
    "SELECT memory_id, kind, text, noted_at FROM context_memories WHERE tenant_id = %(tenant)s"
    " AND user_id = %(user)s AND memory_id = ANY(%(memories)s::uuid[]) AND position <= %(known)s"
    " ORDER BY noted_at DESC, memory_id"
)
_RELATED = (
    "SELECT DISTINCT e.entity_id, e.kind, e.name FROM context_facts f"
    " JOIN context_entities e ON e.entity_id = coalesce("
    "  (SELECT merged_into FROM context_entities m WHERE m.entity_id = f.entity_id),"
    "  f.entity_id)"
    " WHERE f.tenant_id = %(tenant)s AND f.user_id = %(user)s"
    " AND f.source_memory_id = ANY(%(memories)s::uuid[]) AND NOT e.entity_id = ANY(%(ids)s)"
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _fact(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "fact_id": row["fact_id"],
        "predicate": row["predicate"],
        "value": row["value"],
        "valid_from": _iso(row["valid_from"]),
        "valid_to": _iso(row["valid_to"]),
        "source_memory_id": None
        if row["source_memory_id"] is None
        else str(row["source_memory_id"]),
        "source_event": row["source_event"],
        "recorded_position": row["position"],
    }


def get_entity(
    pool: ConnectionPool[Any],
    tenant_id: UUID,
    user_id: str,
    entity_id: str,
    *,
    as_of: datetime | None = None,
    known_as_of: int | None = None,
    after: int | None = None,
) -> dict[str, Any]:
    """One entity (a merged one answers as the entity it was merged into): its names, its facts
    valid at `as_of` (now) as known at `known_as_of` (everything), their whole history, the
    memories they were learnt from and the entities those memories also taught (one hop)."""
    try:
        parsed = UUID(entity_id)
    except ValueError as error:
        raise NotFound("no such entity", {"entity_id": entity_id[:100]}) from error
    if after is not None:
        wait_for(pool, CONTEXT, after)
    with tenant_reader(pool, tenant_id) as cur:
        row = cur.execute(_ENTITY, (tenant_id, user_id, parsed)).fetchone()
        if row is not None and row["merged_into"] is not None:
            row = cur.execute(_ENTITY, (tenant_id, user_id, row["merged_into"])).fetchone()
        if row is None:
            raise NotFound("no such entity", {"entity_id": entity_id})
        aliases = cur.execute(_ALIASES, (tenant_id, user_id, row["entity_id"])).fetchall()
        ids = [row["entity_id"], *(a["entity_id"] for a in aliases)]
        params: dict[str, Any] = {
            "tenant": tenant_id,
            "user": user_id,
            "ids": ids,
            "known": known_as_of if known_as_of is not None else _FOREVER,
            "at": as_of or datetime.now(UTC),
        }
        facts = [_fact(f) for f in cur.execute(_VALID_AT, params).fetchall()]
        history = [_fact(f) for f in cur.execute(_HISTORY, params).fetchall()]
        params["memories"] = sorted({f["source_memory_id"] for f in history} - {None})
        memories = cur.execute(_MEMORIES, params).fetchall()
        related = cur.execute(_RELATED, params).fetchall()
        position = current_position(cur.connection, CONTEXT)
    return {
        "entity_id": str(row["entity_id"]),
        "kind": row["kind"],
        "name": row["name"],
        "aliases": [a["name"] for a in aliases],
        "facts": facts,
        "history": history,
        "memories": [
            {"memory_id": str(m["memory_id"]), "text": m["text"], "noted_at": _iso(m["noted_at"])}
            for m in memories
        ],
        "related": [
            {"entity_id": str(r["entity_id"]), "kind": r["kind"], "name": r["name"]}
            for r in related
        ],
        "position": position,
    }
