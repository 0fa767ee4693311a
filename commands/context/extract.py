"""Extracting facts from a memory through the person's own model (same keys and routing as
the planner, usage recorded in `MemoryTaught`). The rules already ran when it was noted; this
adds what only a model finds. A worker does it for every new note (commands/context/
background.py); `ExtractMemory` asks for it again on request. Once per text version: the
memory records the source event it learnt from, so a redelivery or a second request adds
nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from commands.base import Command, CommandResult, Issued
from commands.context.application import ContextPorts, load_own, required
from commands.context.learning import learn
from commands.ports.vault import Erased
from commands.runs.provider_keys import configured_providers, leased_keys
from domain.context.memory import Memory
from domain.errors import InvalidTransition, Unavailable, Unprocessable
from domain.event_context import EventContext

if TYPE_CHECKING:
    from commands.dispatch import Ports


class ExtractMemory(Command):
    memory_id: UUID


def memory_source(memory: Memory) -> str:
    """The event a memory's current text came from: what its extracted facts cite."""
    return f"Memory:{memory.id}:{memory.text_version}"


def extract_with_model(
    ports: ContextPorts,
    memory: Memory,
    context: EventContext,
    *,
    text: str | None = None,
    source: str | None = None,
    no_key_is_fine: bool = False,
) -> int | None:
    """Ask the person's model what `text` (default: the memory's current text) teaches and
    record it, citing `source`; the position of the events, or None if nothing was asked (no
    key, forgotten, or that source was learnt from already). An answer that is not a valid
    extraction records only what the call cost."""
    if ports.extractor is None:
        raise Unavailable("no extractor is configured in this process", {})
    source = source or memory_source(memory)
    if memory.forgotten or memory.has_learnt(source):
        return None
    tenant_id = memory.tenant_id
    providers = configured_providers(ports.vault, tenant_id)
    if not providers and no_key_is_fine:
        return None  # rules only for a person without a model key
    if text is None:
        opened = ports.vault.open_personal(str(tenant_id), memory.text_sealed, "memory_text")
        if isinstance(opened, Erased):
            return None
        text = str(opened)
    keys = leased_keys(ports.vault, tenant_id, providers)
    usage: dict[str, Any] | None
    try:
        extracted = ports.extractor.extract(text, source, keys)
    except Unavailable as failure:
        if no_key_is_fine and failure.details.get("reason") == "no_keys":
            return None
        raise
    except Unprocessable as invalid:
        if not no_key_is_fine:
            raise
        usage = invalid.details.get("usage")
        memory.learnt([], [], usage, source)
        return ports.app.save_atomically(memory, context=context)
    learnt = learn(
        ports, tenant_id, memory.user_id, memory.id, extracted.extraction, memory.created_on
    )
    ports.payloads.put(tenant_id, memory.user_id, learnt.payloads)
    usage = extracted.usage.model_dump(mode="json")
    memory.learnt(learnt.recognised, learnt.taught, usage, source)
    return ports.app.save_atomically(memory, *learnt.entities.values(), context=context)


def extract_memory(command: ExtractMemory, issued: Issued, ports: Ports) -> CommandResult:
    context = required(ports.context)
    caller = issued.signed_in()
    memory = load_own(context.app, command.memory_id, caller.tenant_id, caller.user_id)
    assert isinstance(memory, Memory)
    if memory.forgotten:
        raise InvalidTransition("this memory was forgotten", {"memory_id": str(memory.id)})
    position = extract_with_model(context, memory, issued.event_context())
    return CommandResult({"memory_id": str(memory.id)}, position)
