"""Parsing the model's answer: a Plan, a malformed answer (next model), or a rejection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.llm.answer import MAX_ANSWER_CHARS, MalformedAnswer, parse_plan_answer
from domain.runs.actions import CreateCalendarEvent, InvalidParameters, UnknownAction

pytestmark = pytest.mark.unit


def step(step_id: str = "s1", action: str = "calendar.create_event", **parameters: Any) -> Any:
    return {
        "step_id": step_id,
        "action": action,
        "provider": "google",
        "parameters": parameters
        or {
            "title": "Meeting with Sarah",
            "start": "2026-12-01T14:00:00-05:00",
            "end": "2026-12-01T15:00:00-05:00",
            "attendees": ["sarah@example.com"],
        },
    }


def answer(*steps: Any) -> str:
    return json.dumps({"summary": "Meeting with Sarah", "steps": list(steps) or [step()]})


def test_a_valid_answer_becomes_a_plan() -> None:
    plan = parse_plan_answer(answer())
    assert [s.action for s in plan.steps] == ["calendar.create_event"]
    parameters = CreateCalendarEvent.model_validate(plan.steps[0].parameters)
    assert parameters.start.hour == 14


def test_a_fenced_answer_is_accepted() -> None:
    assert parse_plan_answer(f"```json\n{answer()}\n```").summary == "Meeting with Sarah"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "empty"),
        ("   ", "empty"),
        ("Sure! Here is your plan: ...", "not_json"),
        ('{"summary": "x", "steps": [', "not_json"),
        ('{"summary": "x", "steps": [{"n": NaN}]}', "not_json"),
        ("[1, 2]", "not_schema"),
        ('{"summary": "x"}', "not_schema"),
        ('{"summary": "x", "steps": []}', "not_schema"),
        (json.dumps({"summary": "x", "steps": [step()], "extra": 1}), "not_schema"),
        (json.dumps({"summary": "x", "steps": [step(step_id="step-1")]}), "not_schema"),
        (answer(step("s1"), step("s1")), "not_schema"),
        (" " * MAX_ANSWER_CHARS + "{}", "too_long"),
    ],
)
def test_malformed_answers_say_why(text: str | None, reason: str) -> None:
    with pytest.raises(MalformedAnswer) as raised:
        parse_plan_answer(text)
    assert raised.value.reason == reason


def test_repeated_step_ids_are_named() -> None:
    with pytest.raises(MalformedAnswer, match="step ids repeat: s1"):
        parse_plan_answer(answer(step("s1"), step("s1")))


def test_an_unknown_action_is_a_domain_rejection_naming_it() -> None:
    with pytest.raises(UnknownAction) as raised:
        parse_plan_answer(answer(step(action="shell.exec", command="rm -rf /")))
    assert raised.value.details["action"] == "shell.exec"


def test_invalid_parameters_are_a_domain_rejection() -> None:
    with pytest.raises(InvalidParameters) as raised:
        parse_plan_answer(answer(step(title="", start="next tuesday")))
    locations = [error["location"] for error in raised.value.details["errors"]]
    assert ["title"] in locations
    assert ["start"] in locations
