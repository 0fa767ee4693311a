"""End to end, offline: what the person noted reaches the planner as data, and the plan it
proposes uses it. The model here is a stand-in that reads only the prompt's data block (no
network, no key): given "email Sarah that I'm late" it writes to the e-mail address of the
contact named in the request, if the context has one."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.llm.gateway import CompletionAnswer, CompletionRequest
from adapters.llm.planner import LiteLLMPlanner
from adapters.llm.prompt import DATA_CLOSE, DATA_OPEN
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from tests.e2e.context.helpers import note
from tests.e2e.runs.test_intent_lifecycle import submit
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e


class PromptReadingModel:
    """A completion gateway that answers from the prompt's `<cairn-data>` block alone."""

    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []

    def warm_up(self) -> None:
        return None

    def complete(
        self, request: CompletionRequest, credential: ProviderCredential
    ) -> CompletionAnswer:
        user: Mapping[str, str] = request.messages[-1]
        block = user["content"].split(DATA_OPEN, 1)[1].split(DATA_CLOSE, 1)[0]
        data = json.loads(block)
        self.data.append(data)
        words = set(data["request"].lower().split())
        to = [
            c["email"]
            for c in data["context"]["contacts"]
            if c.get("email") and c["name"].lower().split()[0] in words
        ]
        plan = {
            "summary": "Tell them I'm late",
            "steps": [
                {
                    "step_id": "s1",
                    "action": "email.send",
                    "provider": "google",
                    "parameters": {
                        "to": to or ["unknown@example.invalid"],
                        "subject": "Running late",
                        "body": "I'm late, sorry.",
                    },
                }
            ],
        }
        return CompletionAnswer(json.dumps(plan), 100, 50, Decimal(0), priced=False)


def _planned_by(cairn: Cairn, person: Person, model: PromptReadingModel) -> None:
    worker = cairn.runs_worker
    worker.ports = dataclasses.replace(worker.ports, planner=LiteLLMPlanner(gateway=model))
    store_provider_key(
        cairn.services.identity.vault,
        uuid.UUID(person.session["tenant_id"]),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test-1")),
    )


def _plan_event(cairn: Cairn, run_id: str) -> Any:
    """The run's recorded PlanProposed, once the worker has stored it."""
    app = cairn.services.runs.app
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stored = app.recorder.select_events(uuid.UUID(run_id))
        proposed = [s for s in stored if s.topic.endswith("PlanProposed")]
        if proposed:
            return app.mapper.to_domain_event(proposed[0])
        time.sleep(0.1)
    pytest.fail("no plan was proposed")


def test_email_sarah_goes_to_the_noted_address(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxplan")
    note(cairn, ada, "The office is on the third floor")
    noted = note(cairn, ada, "Sarah Lee is my dentist, sarah@smile.example")
    note(cairn, ada, "Tom Baker is my plumber, tom@pipes.example")
    model = PromptReadingModel()
    _planned_by(cairn, ada, model)
    # The view has the note before the intent is planned (read-your-writes).
    cairn.client.get(
        "/v1/context/memories", headers=ada.headers, params={"after": noted["position"]}
    )

    run_id = submit(cairn, ada, "email Sarah that I'm late")["run_id"]
    proposed = _plan_event(cairn, run_id)

    assert proposed.plan["steps"][0]["parameters"]["to"] == ["sarah@smile.example"]
    contacts = model.data[0]["context"]["contacts"]
    assert {"name": "Sarah Lee", "email": "sarah@smile.example", "relation": "dentist"} in contacts
    given = proposed.context_given
    assert given and all(g.startswith(("fact:", "memory:")) for g in given)
    assert f"memory:{noted['memory_id']}" in given or any(g.startswith("fact:") for g in given)
