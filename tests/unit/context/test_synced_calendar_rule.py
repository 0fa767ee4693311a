"""A synced calendar event as the learner reads it (domain/context/synced.py): its opened
attendee lines become attendees with addresses, its start an aware time, and the rule makes
each attendee a person with the address and the appointment."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.context.extraction import ExtractedFact
from domain.context.synced import Attendee, facts_from_calendar_event, synced_calendar_event


def test_attendee_lines_become_people_with_their_address_and_the_appointment() -> None:
    lines = (
        "Sarah Lee <Sarah@Smile.example>\n<bob@acme.example>\nnobody\nSarah <sarah@smile.example>"
    )
    event = synced_calendar_event("google", "ext1", "Check-up", "2026-12-07T10:00:00Z", lines)

    assert event is not None
    assert event.starts_at == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert event.attendees == (
        Attendee(email="sarah@smile.example", name="Sarah Lee"),  # the first line wins
        Attendee(email="bob@acme.example"),
    )
    sarah, bob = facts_from_calendar_event(event).entities
    appointment = "Check-up at 2026-12-07T10:00:00+00:00"
    assert (sarah.name, sarah.kind) == ("Sarah Lee", "person")
    assert sarah.facts == (
        ExtractedFact(predicate="email", value="sarah@smile.example"),
        ExtractedFact(predicate="appointment", value=appointment),
    )
    assert bob.name == "bob@acme.example"


def test_an_all_day_event_starts_at_midnight_utc_and_one_without_a_start_is_none() -> None:
    all_day = synced_calendar_event("google", "ext2", "", "2026-12-24", "")

    assert all_day is not None and all_day.starts_at == datetime(2026, 12, 24, tzinfo=UTC)
    assert all_day.attendees == ()
    assert synced_calendar_event("google", "ext3", "x", None, "a <a@b.example>") is None
    assert synced_calendar_event("google", "ext3", "x", "soon", "a <a@b.example>") is None
