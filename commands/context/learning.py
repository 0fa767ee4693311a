"""Turning an `Extraction` into entities and bi-temporal facts, every value sealed under the
source memory's key and its plaintext put in the payload store."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from commands.context.application import ContextPorts, find
from commands.ports.context import Payload
from domain.context.entity import Entity
from domain.context.extraction import Extraction
from domain.context.memory import memory_subject


def normal_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def entity_id_for(tenant_id: UUID, user_id: str, name: str) -> UUID:
    """A new entity's id, from its name: two notes about "Sarah Lee" name the same entity even
    before the view has seen the first."""
    return uuid5(NAMESPACE_URL, f"cairn:entity:{tenant_id}:{user_id}:{normal_name(name)}")


def fact_id_for(memory_id: UUID, entity_id: UUID, predicate: str, value: str, at: datetime) -> str:
    raw = f"{memory_id}:{entity_id}:{predicate}:{value}:{at.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass
class Learnt:
    entities: dict[UUID, Entity] = field(default_factory=dict)
    recognised: list[UUID] = field(default_factory=list)
    taught: list[UUID] = field(default_factory=list)
    payloads: list[Payload] = field(default_factory=list)


def learn(
    ports: ContextPorts,
    tenant_id: UUID,
    user_id: str,
    memory_id: UUID,
    extraction: Extraction,
    noted_at: datetime,
) -> Learnt:
    """Entities and facts of `extraction`, taught by the memory `memory_id` (not saved yet)."""
    learnt = Learnt()
    subject = memory_subject(memory_id)
    tenant = str(tenant_id)
    for found in extraction.entities:
        entity_id = ports.directory.resolve(tenant_id, user_id, found.name) or entity_id_for(
            tenant_id, user_id, found.name
        )
        entity = learnt.entities.get(entity_id) or find(ports.app, entity_id)
        if entity is not None and (entity.merged_into is not None or entity.forgotten):
            target = entity.merged_into
            entity = find(ports.app, target) if target is not None else None
            if entity is None or entity.forgotten:
                continue
            entity_id = entity.id
        if entity is None:
            payload_id = uuid5(entity_id, f"name:{memory_id}")
            sealed = ports.vault.seal_personal(tenant, subject, "entity_name", found.name)
            learnt.payloads.append(Payload(payload_id, subject, found.name))
            entity = Entity(
                entity_id, tenant_id, user_id, found.kind, sealed, payload_id, memory_id
            )
            learnt.recognised.append(entity_id)
        learnt.entities[entity_id] = entity
        for fact in found.facts:
            valid_from = fact.valid_from or noted_at
            fact_id = fact_id_for(memory_id, entity_id, fact.predicate, fact.value, valid_from)
            payload_id = uuid5(entity_id, f"fact:{fact_id}")
            sealed = ports.vault.seal_personal(tenant, subject, "fact_value", fact.value)
            learnt.payloads.append(Payload(payload_id, subject, fact.value))
            entity.record_fact(
                fact_id,
                fact.predicate,
                sealed,
                payload_id,
                valid_from,
                memory_id,
                extraction.source_event,
            )
        if found.facts and entity_id not in learnt.taught:
            learnt.taught.append(entity_id)
    return learnt
