"""Extracting facts from a memory through the person's own model (same keys and routing as
the planner, usage recorded in `MemoryTaught`). The rules already ran when it was noted; this
adds what only a model finds."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from commands.base import Command, CommandResult, Issued
from commands.context.application import load_own, required
from commands.context.learning import learn
from commands.runs.provider_keys import configured_providers, leased_keys
from domain.context.memory import Memory
from domain.errors import InvalidTransition, Unavailable

if TYPE_CHECKING:
    from commands.dispatch import Ports


class ExtractMemory(Command):
    memory_id: UUID


def extract_memory(command: ExtractMemory, issued: Issued, ports: Ports) -> CommandResult:
    context = required(ports.context)
    if context.extractor is None:
        raise Unavailable("no extractor is configured in this process", {})
    caller = issued.signed_in()
    memory = load_own(context.app, command.memory_id, caller.tenant_id, caller.user_id)
    assert isinstance(memory, Memory)
    if memory.forgotten:
        raise InvalidTransition("this memory was forgotten", {"memory_id": str(memory.id)})
    tenant = str(caller.tenant_id)
    text = context.vault.open_personal(tenant, memory.text_sealed, "memory_text")
    vault = context.vault
    keys = leased_keys(vault, caller.tenant_id, configured_providers(vault, caller.tenant_id))
    source = f"Memory:{memory.id}:{memory.text_version}"
    extracted = context.extractor.extract(str(text), source, keys)
    learnt = learn(
        context, caller.tenant_id, caller.user_id, memory.id, extracted.extraction, context.clock()
    )
    context.payloads.put(caller.tenant_id, caller.user_id, learnt.payloads)
    memory.learnt(learnt.recognised, learnt.taught, extracted.usage.model_dump(mode="json"))
    position = context.app.save_atomically(
        memory, *learnt.entities.values(), context=issued.event_context()
    )
    return CommandResult({"memory_id": str(memory.id)}, position)
