"""Noting and correcting memories: the text is sealed in the event, its plaintext and vector go
to the payload store, and what the rules find in it becomes entities and facts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate
from pydantic import Field

from commands.base import Command, CommandResult, Issued
from commands.context.application import ContextPorts, load_own, required
from commands.context.learning import learn
from commands.ports.context import Payload
from domain.context.extraction import Extraction, extract_by_rules
from domain.context.memory import Memory, memory_subject
from domain.context.synced import SyncedCalendarEvent, facts_from_calendar_event
from domain.errors import Unavailable
from domain.storable import UtcTime

if TYPE_CHECKING:
    from commands.dispatch import Ports


class NoteMemory(Command):
    """Remember this ("Sarah Lee is my dentist, sarah@smile.example"). `valid_from` dates the
    facts it states (default: now)."""

    text: str = Field(min_length=1, max_length=4000)
    valid_from: UtcTime | None = None


class CorrectMemory(Command):
    memory_id: UUID
    text: str = Field(min_length=1, max_length=4000)


def memory_id_for(tenant_id: UUID, command_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cairn:memory:{tenant_id}:{command_id}")


def _embedded_payload(
    ports: ContextPorts, tenant_id: UUID, payload_id: UUID, subject: str, text: str
) -> Payload:
    try:
        (embedding,) = ports.embedders.for_tenant(tenant_id).passages([text])
    except Unavailable:
        # The person's embedding model is down: the offline model's vector keeps the note
        # searchable now, and re-embedding moves it to the person's model later.
        (embedding,) = ports.embedders.offline.passages([text])
    return Payload(payload_id, subject, text, embedding)


def note(
    ports: ContextPorts,
    tenant_id: UUID,
    user_id: str,
    memory_id: UUID,
    text: str,
    *,
    kind: str = "note",
    extraction: Extraction | None = None,
    valid_from: datetime | None = None,
    source_event: str | None = None,
    embed: bool = True,
) -> list[Aggregate]:
    """The new memory and the entities it teaches, their payloads stored (not saved yet).
    `source_event`: what its facts cite (default: its own `MemoryNoted`). Without `embed`
    its vector is left to the re-embedding job (found by full text until then)."""
    subject = memory_subject(memory_id)
    payload_id = uuid5(memory_id, "text")
    sealed = ports.vault.seal_personal(str(tenant_id), subject, "memory_text", text)
    payloads = [
        _embedded_payload(ports, tenant_id, payload_id, subject, text)
        if embed
        else Payload(payload_id, subject, text)
    ]
    source = source_event or f"Memory:{memory_id}:1"
    memory = Memory(memory_id, tenant_id, user_id, sealed, payload_id, kind, source)
    found = extract_by_rules(text, source, valid_from)
    if extraction is not None:
        found = Extraction(
            source_event=extraction.source_event, entities=found.entities + extraction.entities
        )
    # Dated like the model's facts about the same note (commands/context/extract.py): a fact
    # both find is one fact id, recorded once.
    learnt = learn(ports, tenant_id, user_id, memory_id, found, valid_from or memory.created_on)
    memory.learnt(learnt.recognised, learnt.taught)
    ports.payloads.put(tenant_id, user_id, payloads + learnt.payloads)
    return [memory, *learnt.entities.values()]


def note_memory(command: NoteMemory, issued: Issued, ports: Ports) -> CommandResult:
    context = required(ports.context)
    caller = issued.signed_in()
    memory_id = memory_id_for(caller.tenant_id, issued.required_command_id())
    aggregates = note(
        context,
        caller.tenant_id,
        caller.user_id,
        memory_id,
        command.text,
        valid_from=command.valid_from,
    )
    position = context.app.save_atomically(
        *aggregates, context=issued.event_context(correlation_id=str(memory_id))
    )
    return CommandResult({"memory_id": str(memory_id)}, position)


def correct_memory(command: CorrectMemory, issued: Issued, ports: Ports) -> CommandResult:
    """A new text for the memory; the facts learnt from the old one stay until forgotten."""
    context = required(ports.context)
    caller = issued.signed_in()
    memory = load_own(context.app, command.memory_id, caller.tenant_id, caller.user_id)
    assert isinstance(memory, Memory)
    subject = memory_subject(memory.id)
    payload_id = uuid5(memory.id, f"text:{issued.command_id or uuid4()}")
    sealed = context.vault.seal_personal(
        str(caller.tenant_id), subject, "memory_text", command.text
    )
    context.payloads.put(
        caller.tenant_id,
        caller.user_id,
        [_embedded_payload(context, caller.tenant_id, payload_id, subject, command.text)],
    )
    replaced = memory.payload_ids[-1]
    memory.correct(sealed, payload_id, caller.user_id)
    position = context.app.save_atomically(memory, context=issued.event_context())
    # The wrong text leaves the payload store (the projector reads the new one from now on,
    # in a rebuild too); it stays sealed in its event until the memory is forgotten.
    context.payloads.delete(caller.tenant_id, [replaced])
    return CommandResult({"memory_id": str(memory.id)}, position)


class RecordSyncedCalendarEvent(Command):
    """A calendar event a connected account synced: its attendees become people with their
    e-mail addresses by a deterministic rule (domain/context/synced.py), no model needed. The
    integrations send it; it is forgettable like any memory."""

    event: SyncedCalendarEvent


def record_synced_calendar_event(
    command: RecordSyncedCalendarEvent, issued: Issued, ports: Ports
) -> CommandResult:
    context = required(ports.context)
    caller = issued.signed_in()
    synced = command.event
    memory_id = uuid5(
        NAMESPACE_URL,
        f"cairn:synced:{caller.tenant_id}:{caller.user_id}:{synced.provider}:{synced.event_id}",
    )
    people = ", ".join(a.name or a.email for a in synced.attendees if not a.is_self)
    text = f"{synced.title or 'Appointment'} on {synced.starts_at.isoformat()}"
    text += f" with {people}" if people else ""
    text += f" at {synced.location}" if synced.location else ""
    aggregates = note(
        context,
        caller.tenant_id,
        caller.user_id,
        memory_id,
        text[:4000],
        kind="synced",
        extraction=facts_from_calendar_event(synced),
    )
    position = context.app.save_atomically(
        *aggregates, context=issued.event_context(correlation_id=str(memory_id))
    )
    return CommandResult({"memory_id": str(memory_id)}, position)
