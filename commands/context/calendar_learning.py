"""Synced calendar events become knowledge (docs/context.md): the background learner's rule
for `CalendarEventSynced` (domain/context/synced.py), no model.

Each synced version of an event is a memory of kind synced ("<title> on <start> with
<attendees>"), its id derived from the feed, the event and its version (the provider's etag),
whose facts cite `CalendarFeed:<id>:<version>`: every attendee is a person with the address
and the appointment. The title and attendees (sealed for the person) are opened here and what
is learnt is sealed again under the memory's own subject, as `RecordSyncedCalendarEvent`
does (commands/context/notes.py), so forgetting the memory or erasing the person shreds it.
Fields that open as erased (the person is gone) teach nothing. A redelivered event, or the
same version synced again, adds nothing; a changed event (new etag) is a new memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from commands.context.application import ContextPorts, find
from commands.context.notes import note
from commands.ports.vault import Erased
from domain.context.synced import facts_from_calendar_event, synced_calendar_event
from domain.event_context import EventContext

ACTOR = "cairn-context"


@dataclass(frozen=True)
class SyncedItem:
    """A `CalendarEventSynced` event with the feed it belongs to."""

    feed_id: UUID
    version: int
    tenant: str
    person: str
    provider: str
    item_id: str
    item_version: str  # the provider's etag
    sealed: dict[str, str]
    start: str | None


def calendar_memory_id(tenant: str, feed_id: UUID, item_id: str, item_version: str) -> UUID:
    return uuid5(
        NAMESPACE_URL, f"cairn:calendar-memory:{tenant}:{feed_id}:{item_id}:{item_version}"
    )


def _opened(ports: ContextPorts, item: SyncedItem, name: str) -> str | None:
    token = item.sealed.get(name)
    if token is None:
        return ""
    value = ports.vault.open_personal(item.tenant, token, f"calendar.{name}")
    return None if isinstance(value, Erased) else str(value)


def learn_from_calendar(ports: ContextPorts, item: SyncedItem) -> int | None:
    """The memory and the attendees it teaches, saved; None when nothing was learnt."""
    memory_id = calendar_memory_id(item.tenant, item.feed_id, item.item_id, item.item_version)
    if find(ports.app, memory_id) is not None:
        return None  # learnt already (or learnt and forgotten)
    title, attendees = _opened(ports, item, "title"), _opened(ports, item, "attendees")
    if title is None or attendees is None:
        return None  # the person was erased
    synced = synced_calendar_event(item.provider, item.item_id, title, item.start, attendees)
    if synced is None or not synced.attendees:
        return None  # no appointment, or nobody to learn about
    source = f"CalendarFeed:{item.feed_id}:{item.version}"
    people = ", ".join(a.name or a.email for a in synced.attendees)
    text = f"{synced.title or 'Appointment'} on {synced.starts_at.isoformat()} with {people}"
    aggregates = note(
        ports,
        UUID(item.tenant),
        item.person,
        memory_id,
        text[:4000],
        kind="synced",
        extraction=facts_from_calendar_event(synced),
        source_event=source,
        # Known from when it was synced (the appointment names its time); off the sync's
        # path: the re-embedding job gives it a vector.
        embed=False,
    )
    context = EventContext(
        tenant=item.tenant, actor=ACTOR, correlation_id=str(memory_id), causation_id=source
    )
    return ports.app.save_atomically(*aggregates, context=context)


def calendar_loader(app: Any) -> Callable[[UUID, int], SyncedItem | None]:
    """Reads one `CalendarEventSynced` of a calendar feed from the integrations' event store."""

    def load(feed_id: UUID, version: int) -> SyncedItem | None:
        events = list(app.repository.event_store.get(feed_id, gt=version - 1, lte=version))
        if not events or type(events[0]).__name__ != "CalendarEventSynced":
            return None
        feed = app.repository.get(feed_id)
        synced = events[0]
        start = synced.fields.get("start")
        return SyncedItem(
            feed_id,
            version,
            feed.tenant,
            feed.person,
            feed.provider,
            synced.item_id,
            synced.version,
            dict(synced.sealed),
            None if start is None else str(start),
        )

    return load
