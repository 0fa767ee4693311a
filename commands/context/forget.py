"""Forgetting a memory and merging entities.

Forgetting is final and total: the memory, the facts learnt from it and the entities first
recognised from it are withdrawn by events (the views drop them), their payloads are deleted,
and the memory's vault key is destroyed, so the sealed copies in the event store open as
`[erased]` and a rebuild from position 1 finds nothing to bring back (decision 0027).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from commands.base import Command, CommandResult, Issued
from commands.context.application import ContextPorts, find, load_own, required
from domain.context.entity import Entity
from domain.context.memory import Memory, memory_subject
from domain.errors import InvalidInput
from domain.event_context import EventContext

if TYPE_CHECKING:
    from commands.dispatch import Ports


class ForgetMemory(Command):
    memory_id: UUID


class MergeEntities(Command):
    """`entity_id` was the same as `into_entity_id` ("Sara, not Sarah"): its names go on
    resolving, to the one it is merged into."""

    entity_id: UUID
    into_entity_id: UUID


def _forget(
    context: ContextPorts, memory: Memory, by: str, event_context: EventContext
) -> int | None:
    changed: list[Any] = []
    if memory.forget(by):
        changed.append(memory)
        for entity_id in memory.taught:
            entity = find(context.app, entity_id)
            if isinstance(entity, Entity) and entity_id not in memory.recognised:
                entity.withdraw_source(memory.id)
                changed.append(entity)
        for entity_id in memory.recognised:
            entity = find(context.app, entity_id)
            if isinstance(entity, Entity):
                entity.forget(memory.id)
                changed.append(entity)
    position = None
    if changed:
        position = context.app.save_atomically(*changed, context=event_context)
    # After the events: a crash in between leaves the payloads of a forgotten memory, which
    # the retried command (forgetting twice is allowed) removes.
    context.payloads.delete_subject(memory.tenant_id, memory_subject(memory.id))
    context.vault.erase_subject(str(memory.tenant_id), memory_subject(memory.id))
    return position


def forget_memory(command: ForgetMemory, issued: Issued, ports: Ports) -> CommandResult:
    context = required(ports.context)
    caller = issued.signed_in()
    memory = load_own(context.app, command.memory_id, caller.tenant_id, caller.user_id)
    assert isinstance(memory, Memory)
    position = _forget(context, memory, caller.user_id, issued.event_context())
    return CommandResult({"memory_id": str(memory.id)}, position)


def forget_person(
    context: ContextPorts, tenant_id: UUID, user_id: str, by: str, event_context: EventContext
) -> int:
    """Erasing a person forgets every memory of theirs (notes, intents, synced records and
    mail): whatever holds a payload in the payload store. Returns how many."""
    forgotten = 0
    for memory_id in context.payloads.memory_ids(tenant_id, user_id):
        memory = find(context.app, memory_id)
        if isinstance(memory, Memory) and memory.user_id == user_id:
            _forget(context, memory, by, event_context)
            forgotten += 1
    return forgotten


def merge_entities(command: MergeEntities, issued: Issued, ports: Ports) -> CommandResult:
    context = required(ports.context)
    caller = issued.signed_in()
    if command.entity_id == command.into_entity_id:
        raise InvalidInput("an entity cannot be merged into itself", {})
    merged = load_own(context.app, command.entity_id, caller.tenant_id, caller.user_id)
    target = load_own(context.app, command.into_entity_id, caller.tenant_id, caller.user_id)
    assert isinstance(merged, Entity) and isinstance(target, Entity)
    if target.merged_into is not None or target.forgotten:
        raise InvalidInput("merge into an entity that is itself current", {})
    merged.merge_into(target.id, caller.user_id)
    position = context.app.save_atomically(merged, context=issued.event_context())
    return CommandResult({"entity_id": str(target.id)}, position)
