"""End to end, offline, learning in the background: a note names Jo Park, the worker's
learner asks the person's model (litellm's mock path) without anyone asking, and the planner
then has Jo's address for "email Jo"; a completed run teaches the address it wrote to; and a
person without a model key notes without any model call or error."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest

from adapters.context.extraction import LiteLLMExtractor
from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from commands.ports.context import OFFLINE_MODEL
from tests.e2e.context.helpers import entity, eventually, note, search
from tests.e2e.context.test_planner_context import PromptReadingModel, _plan_event, _planned_by
from tests.e2e.runs.test_intent_lifecycle import submit, wait_status, with_model_answering
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e

JO = {
    "entities": [
        {
            "name": "Jo Park",
            "kind": "person",
            "facts": [
                {"predicate": "email", "value": "jo@boulder.example"},
                {"predicate": "relation", "value": "climbing partner"},
            ],
        }
    ]
}


class CountingModel:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.asked: list[str] = []
        self.answer = json.dumps(answer)

    def __call__(self, model: str) -> MockAnswer:
        self.asked.append(model)
        return MockAnswer.text(self.answer)


def _learner_asks(cairn: Cairn, model: CountingModel) -> None:
    assert cairn.worker is not None
    learner = cairn.worker.learning.learner
    extractor = LiteLLMExtractor(LiteLLMGateway(model))
    learner.ports = dataclasses.replace(learner.ports, extractor=extractor)


def _entity_named(cairn: Cairn, person: Person, name: str) -> dict[str, Any] | None:
    position = cairn.services.context.app.recorder.max_notification_id() or 0
    hits = search(cairn, person, name, after=position)
    found = [h for h in hits if h["kind"] == "entity" and h["text"] == name]
    return entity(cairn, person, found[0]["id"]) if found else None


def test_a_note_is_extracted_automatically_and_the_planner_gets_it(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxlearn")
    _planned_by(cairn, ada, planner := PromptReadingModel())
    model = CountingModel(JO)
    _learner_asks(cairn, model)

    noted = note(cairn, ada, "Went climbing with Jo Park from the Boulder gym")

    jo = eventually(lambda: _entity_named(cairn, ada, "Jo Park"))
    facts = {f["predicate"]: f for f in jo["facts"]}
    assert facts["email"]["value"] == "jo@boulder.example"
    assert facts["email"]["source_event"] == f"Memory:{noted['memory_id']}:1"
    stored = cairn.services.context.app.recorder.select_events(uuid.UUID(noted["memory_id"]))
    usage = [json.loads(s.state)["usage"] for s in stored if s.topic.endswith("MemoryTaught")]
    assert any(u and u["provider"] == "openai" for u in usage)

    run_id = submit(cairn, ada, "email Jo that I'm late")["run_id"]
    proposed = _plan_event(cairn, run_id)
    assert proposed.plan["steps"][0]["parameters"]["to"] == ["jo@boulder.example"]
    contacts = planner.data[0]["context"]["contacts"]
    assert any(c["name"] == "Jo Park" and c["email"] == "jo@boulder.example" for c in contacts)


def test_a_completed_run_teaches_the_address_it_wrote_to(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxrunlearn")
    answer = {
        "summary": "Meet Priya",
        "steps": [
            {
                "step_id": "s1",
                "action": "calendar.create_event",
                "provider": "google",
                "parameters": {
                    "title": "Coffee",
                    "start": "2026-12-09T10:00:00Z",
                    "end": "2026-12-09T10:30:00Z",
                    "attendees": ["priya@example.org"],
                },
            }
        ],
    }
    with_model_answering(cairn, ada, answer)
    model = CountingModel({"entities": []})
    _learner_asks(cairn, model)
    assert cairn.worker is not None
    # Asking the model about intents is off by default (CAIRN_CONTEXT_MODEL_LEARNS_INTENTS).
    cairn.worker.learning.learner.model_learns_intents = True
    run_id = submit(cairn, ada, "Coffee with Priya on Wednesday at 10")["run_id"]
    assert wait_status(cairn, ada, run_id, "completed", "failed")["status"] == "completed"

    priya = eventually(lambda: _entity_named(cairn, ada, "Priya"))
    values = {(f["predicate"], f["value"]) for f in priya["facts"]}
    assert ("email", "priya@example.org") in values
    assert ("appointment", "Coffee at 2026-12-09T10:00:00Z") in values
    sources = {f["source_event"] for f in priya["facts"]}
    assert all(s.startswith(f"Run:{run_id}:") for s in sources)
    # The intent itself became a memory; the model was asked about it once.
    memories = cairn.client.get("/v1/context/memories", headers=ada.headers).json()["items"]
    assert [m["kind"] for m in memories] == ["intent"]
    assert len(model.asked) == 1


def test_without_a_model_key_a_note_learns_by_rules_only(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxnokey")
    model = CountingModel(JO)
    _learner_asks(cairn, model)
    assert cairn.worker is not None
    work = cairn.worker.learning.work
    before = work.handled
    note(cairn, ada, "Sarah Lee is my dentist, sarah@smile.example")
    sarah = eventually(lambda: _entity_named(cairn, ada, "Sarah Lee"))
    assert {f["predicate"] for f in sarah["facts"]} == {"relation", "email"}
    # The learner has handled the note's MemoryNoted and MemoryTaught: no model was asked.
    eventually(lambda: work.handled >= before + 2)
    assert model.asked == []
    status = cairn.client.get("/v1/context/status", headers=ada.headers).json()
    assert status["model"] == OFFLINE_MODEL
    assert (status["memories"], status["current"], status["pending"]) == (1, 1, 0)
    assert status["by_model"] == {OFFLINE_MODEL: 1}
