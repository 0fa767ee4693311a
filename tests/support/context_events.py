"""Context-graph activity for the projection tests' generator: memories with payloads,
entities with superseding facts, and forgetting (payloads deleted, then the event)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from domain.context.entity import Entity
from domain.context.memory import Memory, memory_subject

_PAYLOAD = (
    "INSERT INTO context_payloads (tenant_id, payload_id, user_id, subject, body, model, dim,"
    " embedding) VALUES (%s, %s, 'generated', %s, %s, %s, %s, %s::vector)"
)


def _payloads(
    conn: psycopg.Connection[Any], tenant: uuid.UUID, rows: list[tuple[Any, ...]]
) -> None:
    for payload_id, subject, body, vector in rows:
        model = None if vector is None else "test"
        dim = None if vector is None else 3
        conn.execute(_PAYLOAD, (tenant, payload_id, subject, body, model, dim, vector))


def context_activity(generator: Any, tenant: uuid.UUID, n: int) -> list[Any]:
    """A new memory teaching an entity a fact; the next fact of an entity (superseding the
    last, by an event); or a forgotten memory. The payloads go through `generator.payloads`
    (the connection of its batch, committed before the events are saved)."""
    conn: psycopg.Connection[Any] = generator.payloads
    kept = generator.memories.setdefault(tenant, [])
    roll = generator.random.random()
    if kept and roll < 0.1:
        memory = kept.pop(generator.random.randrange(len(kept)))
        conn.execute(
            "DELETE FROM context_payloads WHERE subject = %s", (memory_subject(memory.id),)
        )
        memory.forget("generator")
        return [memory]
    memory_id = uuid.uuid4()
    subject = memory_subject(memory_id)
    text_id, name_id, fact_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _payloads(
        conn,
        tenant,
        [
            (text_id, subject, f"note {n} about person {n % 5}", f"[{n % 7},1,0]"),
            (name_id, subject, f"Person {n % 5}", None),
            (fact_id, subject, f"Org {n}", None),
        ],
    )
    memory = Memory(memory_id, tenant, "generated", "sealed", text_id)
    entity = Entity(uuid.uuid4(), tenant, "generated", "person", "sealed", name_id, memory_id)
    when = datetime(2020 + n % 5, 1 + n % 12, 1, tzinfo=UTC)
    entity.record_fact(f"f{n}", "employer", "sealed", fact_id, when, memory_id, f"m:{n}")
    second = uuid.uuid4()
    _payloads(conn, tenant, [(second, subject, f"Org {n} bis", None)])
    later = datetime(2026, 1, 1, tzinfo=UTC)
    entity.record_fact(f"g{n}", "employer", "sealed", second, later, memory_id, f"m:{n}")
    memory.learnt([entity.id], [entity.id])
    kept.append(memory)
    return [memory, entity]
