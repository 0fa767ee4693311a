"""What a completed run teaches by rule: addresses written to for the person the intent
named, appointments made; nothing from other actions."""

from __future__ import annotations

from domain.context.runs import DoneStep, facts_from_run, names_in

SOURCE = "Run:00000000-0000-0000-0000-000000000001:9"


def _facts(extraction: object) -> dict[str, set[tuple[str, str]]]:
    return {
        e.name: {(f.predicate, f.value) for f in e.facts}
        for e in extraction.entities  # type: ignore[attr-defined]
    }


def test_names_skip_the_leading_verb_pronouns_and_days() -> None:
    assert names_in("email Sarah that I'm late") == ["Sarah"]
    assert names_in("Email Sarah Lee on Monday") == ["Sarah Lee"]
    assert names_in("Book lunch with Tom and Ann Park") == ["Tom", "Ann Park"]
    assert names_in("") == []


def test_an_email_to_the_one_named_person_teaches_her_address() -> None:
    step = DoneStep("email.send", {"to": ["Sarah@Smile.example"], "subject": "Running late"})
    extraction = facts_from_run("email Sarah that I'm late", [step], SOURCE, {})
    assert extraction.source_event == SOURCE
    assert _facts(extraction) == {
        "Sarah": {("email", "sarah@smile.example"), ("emailed", "Running late")}
    }


def test_a_known_address_teaches_only_the_contact_to_its_entity() -> None:
    step = DoneStep("email.send", {"to": ["sarah@smile.example"], "subject": "Late"})
    known = {"sarah@smile.example": "Sarah Lee"}
    extraction = facts_from_run("email Sarah that I'm late", [step], SOURCE, known)
    assert _facts(extraction) == {"Sarah Lee": {("emailed", "Late")}}


def test_an_event_with_several_attendees_names_them_by_address() -> None:
    step = DoneStep(
        "calendar.create_event",
        {
            "title": "Planning",
            "start": "2026-12-07T10:00:00+00:00",
            "attendees": ["ann@acme.example", "bo@acme.example"],
            "location": "Room 4",
        },
    )
    extraction = facts_from_run("Set up planning with Ann and Bo", [step], SOURCE, {})
    appointment = ("appointment", "Planning at 2026-12-07T10:00:00+00:00")
    assert _facts(extraction) == {
        "ann@acme.example": {("email", "ann@acme.example"), appointment},
        "bo@acme.example": {("email", "bo@acme.example"), appointment},
        "Room 4": set(),
    }
    assert [e.kind for e in extraction.entities] == ["person", "person", "place"]


def test_other_actions_teach_nothing() -> None:
    step = DoneStep("reminders.create", {"text": "Call Sarah", "due": "2026-12-07T10:00:00Z"})
    assert facts_from_run("remind me to call Sarah", [step], SOURCE, {}).entities == ()
