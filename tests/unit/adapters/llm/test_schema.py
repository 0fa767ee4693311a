"""The response schema: generated from the domain Plan, with the catalogue as an enum."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.llm.schema import RESPONSE_SCHEMA_NAME, plan_json_schema, plan_response_format
from domain.runs.actions import CATALOGUE
from domain.runs.plan import Plan

pytestmark = pytest.mark.unit

jsonschema = pytest.importorskip("jsonschema")

VALID_PLAN: dict[str, Any] = {
    "summary": "Meeting with Sarah",
    "steps": [
        {
            "step_id": "s1",
            "action": "calendar.create_event",
            "provider": "google",
            "parameters": {
                "title": "Meeting with Sarah",
                "start": "2026-12-01T14:00:00-05:00",
                "end": "2026-12-01T15:00:00-05:00",
            },
        }
    ],
}


def test_action_is_an_enum_of_the_catalogue() -> None:
    step = plan_json_schema()["properties"]["steps"]["items"]
    assert step["properties"]["action"]["enum"] == sorted(CATALOGUE)
    assert step["additionalProperties"] is False
    assert set(step["required"]) == {"step_id", "action", "provider", "parameters"}


def test_response_format_wraps_the_schema() -> None:
    response_format = plan_response_format()
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == RESPONSE_SCHEMA_NAME
    assert response_format["json_schema"]["schema"] == plan_json_schema()


def test_a_valid_plan_matches_the_schema() -> None:
    plan = Plan.model_validate(VALID_PLAN)
    jsonschema.validate(plan.model_dump(mode="json"), plan_json_schema())


def test_the_schema_refuses_an_unknown_action() -> None:
    document = {**VALID_PLAN, "steps": [{**VALID_PLAN["steps"][0], "action": "shell.exec"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, plan_json_schema())


def test_the_schema_has_no_references() -> None:
    # $ref support differs between providers; litellm's Anthropic translation breaks it.
    assert "$ref" not in json.dumps(plan_json_schema())
    assert "$defs" not in plan_json_schema()


def test_each_call_gets_its_own_copy() -> None:
    def action_enum() -> list[str]:
        enum: list[str] = plan_json_schema()["properties"]["steps"]["items"]["properties"][
            "action"
        ]["enum"]
        return enum

    first = action_enum()
    first.append("shell.exec")
    assert "shell.exec" not in action_enum()
