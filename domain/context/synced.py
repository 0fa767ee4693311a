"""Deterministic rules for structured sources: no model needed.

The integrations (synced calendars and mail) are built elsewhere; this module defines the shape
of a synced calendar event the context graph accepts and the rule that turns it into facts: an
attendee is a person with an e-mail address, and the event is an upcoming appointment of the
person. A provider adapter maps Google's or Microsoft's shape onto `SyncedCalendarEvent` and
sends `RecordSyncedFacts` (commands/context/notes.py) with what `facts_from_calendar_event`
made of it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.context.extraction import ExtractedEntity, ExtractedFact, Extraction
from domain.context.mail import sender_of


class Attendee(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    is_self: bool = False


class SyncedCalendarEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1, max_length=40)
    event_id: str = Field(min_length=1, max_length=1024)
    title: str = Field(default="", max_length=500)
    starts_at: datetime
    location: str | None = Field(default=None, max_length=500)
    attendees: tuple[Attendee, ...] = Field(default=(), max_length=200)


def facts_from_calendar_event(event: SyncedCalendarEvent) -> Extraction:
    """Each attendee but the person: a person entity (named, else by address) with their
    e-mail and the appointment they share; the location, if any, a place."""
    appointment = f"{event.title or 'appointment'} at {event.starts_at.isoformat()}"
    entities: list[ExtractedEntity] = []
    for attendee in event.attendees:
        if attendee.is_self:
            continue
        facts = (
            ExtractedFact(predicate="email", value=attendee.email.lower()),
            ExtractedFact(predicate="appointment", value=appointment[:500]),
        )
        entities.append(ExtractedEntity(name=attendee.name or attendee.email, facts=facts))
    if event.location:
        entities.append(ExtractedEntity(name=event.location[:200], kind="place"))
    source = f"{event.provider}:calendar:{event.event_id}"[:200]
    return Extraction(source_event=source, entities=tuple(entities))


def synced_calendar_event(
    provider: str, event_id: str, title: str, start: str | None, attendees: str
) -> SyncedCalendarEvent | None:
    """A `CalendarEventSynced` of a feed, its sealed fields opened: `attendees` one
    "Name <address>" a line (the person left out by the provider adapter). An event without a
    start time is no appointment (None); a line without an address is no attendee."""
    try:
        starts_at = datetime.fromisoformat(start or "")
    except ValueError:
        return None
    if starts_at.tzinfo is None:  # an all-day event: its date
        starts_at = starts_at.replace(tzinfo=UTC)
    people: dict[str, Attendee] = {}
    for line in attendees.splitlines()[:200]:
        name, address = sender_of(line)
        if address is not None and address not in people:
            people[address] = Attendee(email=address, name=name)
    return SyncedCalendarEvent(
        provider=provider[:40],
        event_id=event_id[:1024],
        title=" ".join(title.split())[:500],
        starts_at=starts_at,
        attendees=tuple(people.values()),
    )
