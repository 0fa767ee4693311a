"""The deterministic extraction rules and the calendar-attendee rule: no model needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from domain.context.extraction import Extraction, extract_by_rules
from domain.context.synced import Attendee, SyncedCalendarEvent, facts_from_calendar_event

pytestmark = pytest.mark.unit


def facts(extraction: Extraction) -> dict[str, set[tuple[str, str]]]:
    return {e.name: {(f.predicate, f.value) for f in e.facts} for e in extraction.entities}


def test_a_person_their_relation_and_address() -> None:
    found = extract_by_rules("Sarah Lee is my dentist, sarah@smile.example", "Memory:x:1", None)
    assert facts(found) == {
        "Sarah Lee": {("relation", "dentist"), ("email", "sarah@smile.example")}
    }
    assert found.source_event == "Memory:x:1"


def test_an_employer_is_dated_and_the_organisation_is_an_entity() -> None:
    when = datetime(2024, 6, 1, tzinfo=UTC)
    found = extract_by_rules("Sarah joined Globex", "s", when)
    kinds = {e.name: e.kind for e in found.entities}
    assert kinds == {"Sarah": "person", "Globex": "organisation"}
    (fact,) = next(e for e in found.entities if e.name == "Sarah").facts
    assert (fact.predicate, fact.value, fact.valid_from) == ("employer", "Globex", when)


def test_an_address_is_nobodys_when_two_people_are_named() -> None:
    found = extract_by_rules("Ann is my sister and Bob is my brother, x@y.example", "s", None)
    assert all(f.predicate != "email" for e in found.entities for f in e.facts)


def test_plain_text_yields_nothing() -> None:
    assert extract_by_rules("buy milk tomorrow", "s", None).entities == ()


def test_each_calendar_attendee_but_me_is_a_person_with_an_email() -> None:
    event = SyncedCalendarEvent(
        provider="google",
        event_id="abc123",
        title="Check-up",
        starts_at=datetime(2026, 12, 8, 9, tzinfo=UTC),
        location="Smile Dental",
        attendees=(
            Attendee(email="me@example.com", is_self=True),
            Attendee(email="Sarah@Smile.example", name="Sarah Lee"),
            Attendee(email="front-desk@smile.example"),
        ),
    )
    found = facts_from_calendar_event(event)
    assert found.source_event == "google:calendar:abc123"
    named = facts(found)
    assert ("email", "sarah@smile.example") in named["Sarah Lee"]
    assert ("email", "front-desk@smile.example") in named["front-desk@smile.example"]
    assert "me@example.com" not in named
    assert {e.name: e.kind for e in found.entities}["Smile Dental"] == "place"


def test_an_attendee_without_an_address_is_refused() -> None:
    with pytest.raises(ValidationError):
        Attendee(email="not an address")
