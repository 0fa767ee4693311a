"""The provider actions' parameters: what a plan may ask of an update, a delete, a free/busy
read, a draft and a search, and what is refused before any policy or provider sees it."""

from __future__ import annotations

from typing import Any

import pytest

from domain.policy.inputs import step_input
from domain.runs.actions import InvalidParameters, validate_parameters
from domain.runs.plan import PlanStep

pytestmark = pytest.mark.unit


def refused(action: str, parameters: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidParameters) as caught:
        validate_parameters(action, parameters)
    return [e["message"] for e in caught.value.details["errors"]]


def test_an_update_names_an_event_and_at_least_one_change() -> None:
    update = validate_parameters("calendar.update_event", {"event_id": "abc123", "title": "T"})
    assert update.model_dump(exclude_none=True) == {"event_id": "abc123", "title": "T"}
    assert (
        "an update changes at least one field"
        in refused("calendar.update_event", {"event_id": "abc123"})[0]
    )
    # A null is no change either.
    assert refused("calendar.update_event", {"event_id": "abc123", "title": None})


@pytest.mark.parametrize(
    "event_id", ["", "..", ".", "../../calendars", "a b", "id?x=1", "é", "x" * 1025]
)
def test_an_event_id_is_one_url_path_segment_of_a_provider_id(event_id: str) -> None:
    assert refused("calendar.delete_event", {"event_id": event_id})


def test_graph_and_google_ids_are_accepted() -> None:
    for event_id in ("AAMkAGI2TG93AAA=", "b6a2c0lv1g9sr8_20261201T140000Z", "a+b/c-d_e"):
        validate_parameters("calendar.delete_event", {"event_id": event_id})


def test_an_update_ends_after_it_starts_and_times_carry_an_offset() -> None:
    base = {"event_id": "abc123"}
    assert refused(
        "calendar.update_event",
        {**base, "start": "2026-12-01T15:00:00Z", "end": "2026-12-01T14:00:00Z"},
    )
    assert refused("calendar.update_event", {**base, "start": "2026-12-01T15:00:00"})


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"),  # empty
        ("2026-12-02T10:00:00Z", "2026-12-01T10:00:00Z"),  # backwards
        ("2026-12-01T00:00:00Z", "2027-01-02T00:00:00Z"),  # 32 days
    ],
)
def test_free_busy_reads_a_window_of_at_most_31_days(start: str, end: str) -> None:
    assert refused("calendar.free_busy", {"start": start, "end": end})


def test_free_busy_asks_about_at_most_20_others() -> None:
    window = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}
    validate_parameters("calendar.free_busy", {**window, "attendees": ["a@x.example"] * 20})
    assert refused("calendar.free_busy", {**window, "attendees": ["a@x.example"] * 21})


def test_a_search_is_bounded() -> None:
    assert validate_parameters("email.search", {"query": "figures"}).model_dump() == {
        "query": "figures",
        "limit": 10,
    }
    assert refused("email.search", {"query": "figures", "limit": 21})
    assert refused("email.search", {"query": ""})
    assert refused("email.search", {"query": "x", "folder": "inbox"})  # extra fields refused


def test_a_draft_has_the_shape_of_a_send() -> None:
    mail = {"to": ["sarah@example.com"], "subject": "Tuesday", "body": "Hi"}
    assert validate_parameters("email.draft", mail).model_dump() == mail
    assert refused("email.draft", {**mail, "to": []})


def test_an_update_that_keeps_the_attendees_has_no_recipients() -> None:
    def step(parameters: dict[str, Any]) -> PlanStep:
        return PlanStep(
            step_id="s1", action="calendar.update_event", provider="google", parameters=parameters
        )

    kept = step_input(step({"event_id": "abc123", "title": "T"}))
    assert kept.recipients == () and kept.resource.type == "Calendar"
    invited = step_input(step({"event_id": "abc123", "attendees": ["Boss@X.example"]}))
    assert invited.recipients == ("boss@x.example",)
