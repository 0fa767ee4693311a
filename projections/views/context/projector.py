"""The context projector: memories, entities and bi-temporal facts, per person.

Context events carry personal values sealed, and a payload id: each handler reads the plaintext
(and a memory's embedding) from `context_payloads` in the same statement. A forgotten memory's
payloads are deleted, so replaying its events from position 1 inserts nothing: forgetting
survives a rebuild (decision 0027). Every insert is idempotent, every handler a pure function of
the event and the payloads, so two rebuilds give the same rows.
"""

from __future__ import annotations

from typing import Any

from domain.context.entity import Entity
from domain.context.memory import Memory
from projections.engine.projector_base import Projector, Writes, handles

# A payload id is derived from its memory or entity id, which the tenant is part of: the
# payload row names the tenant and person the view row belongs to.
_MEMORY = (
    "INSERT INTO {context_memories} (tenant_id, user_id, memory_id, kind, text, search, model,"
    " dim, embedding, noted_at, updated_at, position)"
    " SELECT p.tenant_id, p.user_id, %(id)s, %(kind)s, p.body, to_tsvector('simple', p.body),"
    " p.model, p.dim, p.embedding, %(at)s, %(at)s, %(position)s"
    " FROM context_payloads p WHERE p.payload_id = %(payload)s"
)
_NOTED = _MEMORY + " ON CONFLICT (memory_id) DO NOTHING"
_CORRECTED = (
    _MEMORY + " ON CONFLICT (memory_id) DO UPDATE SET text = excluded.text,"
    " search = excluded.search, model = excluded.model, dim = excluded.dim,"
    " embedding = excluded.embedding, updated_at = excluded.updated_at,"
    " position = excluded.position"
)
# The payload holds the new vector (written before the event): the view copies it. The
# position stays: the text, which `known_as_of` is about, did not change.
_REEMBEDDED = (
    "UPDATE {context_memories} m SET model = p.model, dim = p.dim, embedding = p.embedding"
    " FROM context_payloads p WHERE m.memory_id = %(id)s AND p.payload_id = %(payload)s"
)
_FORGET_MEMORY = "DELETE FROM {context_memories} WHERE memory_id = %s"
_FORGET_CLOSURES = (
    "DELETE FROM {context_fact_closures} c USING {context_facts} f"
    " WHERE f.fact_id = c.fact_id AND f.source_memory_id = %s"
)
_FORGET_FACTS = "DELETE FROM {context_facts} WHERE source_memory_id = %s"
_FORGET_ENTITIES = "DELETE FROM {context_entities} WHERE source_memory_id = %s"

_ENTITY = (
    "INSERT INTO {context_entities} (tenant_id, user_id, entity_id, kind, name, normal_name,"
    " source_memory_id, recognised_at, position)"
    " SELECT p.tenant_id, p.user_id, %s, %s, p.body,"
    " lower(regexp_replace(btrim(p.body), '\\s+', ' ', 'g')), %s, %s, %s"
    " FROM context_payloads p WHERE p.payload_id = %s"
    " ON CONFLICT (entity_id) DO NOTHING"
)
_FACT = (
    "INSERT INTO {context_facts} (tenant_id, user_id, fact_id, entity_id, predicate, value,"
    " valid_from, initial_valid_to, valid_to, source_memory_id, source_event, recorded_at,"
    " position)"
    " SELECT p.tenant_id, p.user_id, %(fact)s, %(entity)s, %(predicate)s, p.body, %(from)s,"
    " %(to)s, %(to)s, %(source)s, %(event)s, %(at)s, %(position)s"
    " FROM context_payloads p WHERE p.payload_id = %(payload)s"
    " ON CONFLICT (fact_id) DO NOTHING"
)
# Only a fact that is in the view gets a closure: one whose payload was forgotten is not.
_CLOSE = (
    "INSERT INTO {context_fact_closures} (tenant_id, fact_id, valid_to, superseded_by, position)"
    " SELECT tenant_id, fact_id, %s, %s, %s FROM {context_facts} WHERE fact_id = %s"
    " ON CONFLICT (fact_id, position) DO NOTHING"
)
_VALID_TO = "UPDATE {context_facts} SET valid_to = %s WHERE fact_id = %s"
_WITHDRAW_CLOSURES = (
    "DELETE FROM {context_fact_closures} WHERE fact_id = ANY(%s) OR superseded_by = ANY(%s)"
)
_WITHDRAW_FACTS = "DELETE FROM {context_facts} WHERE fact_id = ANY(%s)"
_MERGE = "UPDATE {context_entities} SET merged_into = %s WHERE entity_id = %s OR merged_into = %s"
_FORGET_ENTITY_CLOSURES = (
    "DELETE FROM {context_fact_closures} c USING {context_facts} f"
    " WHERE f.fact_id = c.fact_id AND f.entity_id = %s"
)
_FORGET_ENTITY_FACTS = "DELETE FROM {context_facts} WHERE entity_id = %s"
_FORGET_ENTITY = "DELETE FROM {context_entities} WHERE entity_id = %s"


def _memory_row(event: Any, position: int, kind: str) -> dict[str, Any]:
    return {
        "id": event.originator_id,
        "kind": kind,
        "at": event.timestamp,
        "position": position,
        "payload": event.payload_id,
    }


class Context(Projector):
    name = "context"
    version = 1
    tables = ("context_memories", "context_entities", "context_facts", "context_fact_closures")
    on_error = "stop"

    @handles(Memory.MemoryNoted)
    def noted(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(self.sql(_NOTED), _memory_row(event, position, event.kind))

    @handles(Memory.MemoryCorrected)
    def corrected(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(self.sql(_CORRECTED), _memory_row(event, position, "note"))

    @handles(Memory.MemoryReembedded)
    def reembedded(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(
            self.sql(_REEMBEDDED), {"id": event.originator_id, "payload": event.payload_id}
        )

    @handles(Memory.MemoryForgotten)
    def forgotten(self, event: Any, position: int, writes: Writes) -> None:
        memory_id = event.originator_id
        writes.execute(self.sql(_FORGET_MEMORY), (memory_id,))
        writes.execute(self.sql(_FORGET_CLOSURES), (memory_id,))
        writes.execute(self.sql(_FORGET_FACTS), (memory_id,))
        writes.execute(self.sql(_FORGET_ENTITIES), (memory_id,))

    @handles(Entity.EntityRecognised)
    def recognised(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(
            self.sql(_ENTITY),
            (
                event.originator_id,
                event.kind,
                event.source_memory_id,
                event.timestamp,
                position,
                event.payload_id,
            ),
        )

    @handles(Entity.FactRecorded)
    def fact_recorded(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(
            self.sql(_FACT),
            {
                "fact": event.fact_id,
                "entity": event.originator_id,
                "predicate": event.predicate,
                "from": event.valid_from,
                "to": event.valid_to,
                "source": event.source_memory_id,
                "event": event.source_event,
                "at": event.timestamp,
                "position": position,
                "payload": event.payload_id,
            },
        )

    @handles(Entity.FactSuperseded)
    def fact_superseded(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(
            self.sql(_CLOSE), (event.valid_to, event.superseded_by, position, event.fact_id)
        )
        writes.execute(self.sql(_VALID_TO), (event.valid_to, event.fact_id))

    @handles(Entity.FactsWithdrawn)
    def facts_withdrawn(self, event: Any, position: int, writes: Writes) -> None:
        ids = list(event.fact_ids)
        writes.execute(self.sql(_WITHDRAW_CLOSURES), (ids, ids))
        writes.execute(self.sql(_WITHDRAW_FACTS), (ids,))
        for fact_id, valid_to in sorted(event.revalidated.items()):
            writes.execute(self.sql(_CLOSE), (valid_to, None, position, fact_id))
            writes.execute(self.sql(_VALID_TO), (valid_to, fact_id))

    @handles(Entity.EntityMerged)
    def merged(self, event: Any, position: int, writes: Writes) -> None:
        into, merged = event.into_entity_id, event.originator_id
        writes.execute(self.sql(_MERGE), (into, merged, merged))

    @handles(Entity.EntityForgotten)
    def entity_forgotten(self, event: Any, position: int, writes: Writes) -> None:
        entity_id = event.originator_id
        writes.execute(self.sql(_FORGET_ENTITY_CLOSURES), (entity_id,))
        writes.execute(self.sql(_FORGET_ENTITY_FACTS), (entity_id,))
        writes.execute(self.sql(_FORGET_ENTITY), (entity_id,))
