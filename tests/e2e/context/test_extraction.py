"""Extraction through the person's own model, answered by litellm's mock response: the facts
are validated, cite the memory's event, and the call's usage is recorded; an answer that is
not the schema records nothing."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.context.extraction import LiteLLMExtractor
from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from tests.e2e.context.helpers import entity_named, note
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e

ANSWER = {
    "entities": [
        {
            "name": "Jo Park",
            "kind": "person",
            "facts": [
                {"predicate": "relation", "value": "climbing partner"},
                {"predicate": "phone", "value": "+44 20 7946 0000"},
            ],
        },
        {"name": "Boulder Co", "kind": "organisation", "facts": []},
    ]
}


def _model_answers(cairn: Cairn, person: Person, text: str) -> None:
    store_provider_key(
        cairn.services.identity.vault,
        uuid.UUID(person.session["tenant_id"]),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test-1")),
    )
    dispatcher = cairn.services.commands
    extractor = LiteLLMExtractor(LiteLLMGateway(lambda _model: MockAnswer.text(text)))
    assert dispatcher.ports.context is not None
    context = dataclasses.replace(dispatcher.ports.context, extractor=extractor)
    dispatcher.ports = dataclasses.replace(dispatcher.ports, context=context)


def _extract(cairn: Cairn, person: Person, memory_id: str) -> tuple[int, dict[str, Any]]:
    answer = cairn.client.post(
        f"/v1/context/memories/{memory_id}/extract",
        headers={**person.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    return answer.status_code, answer.json()


def test_facts_from_the_persons_model_cite_the_memory(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxextract")
    noted = note(cairn, ada, "Climbed with Jo Park from Boulder Co, call her on +44 20 7946 0000")
    _model_answers(cairn, ada, json.dumps(ANSWER))
    status, body = _extract(cairn, ada, noted["memory_id"])
    assert status == 202, body
    position = body["position"]
    assert isinstance(position, int)
    jo = entity_named(cairn, ada, "Jo Park", position)
    facts = {f["predicate"]: f for f in jo["facts"]}
    assert facts["relation"]["value"] == "climbing partner"
    assert facts["phone"]["source_memory_id"] == noted["memory_id"]
    assert facts["phone"]["source_event"] == f"Memory:{noted['memory_id']}:1"
    stored = cairn.services.context.app.recorder.select_events(uuid.UUID(noted["memory_id"]))
    taught = [s for s in stored if s.topic.endswith("MemoryTaught")]
    usage = json.loads(taught[-1].state)["usage"]
    assert usage["model"] and usage["provider"] == "openai" and usage["prompt_tokens"] > 0


def test_an_answer_that_is_not_the_schema_records_nothing(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxbadextract")
    noted = note(cairn, ada, "Climbed with Jo Park today")
    _model_answers(cairn, ada, json.dumps({"entities": [{"name": "", "kind": "spaceship"}]}))
    before = cairn.services.context.app.recorder.max_notification_id()
    status, body = _extract(cairn, ada, noted["memory_id"])
    assert status == 422 and body["error"]["code"] == "extraction_invalid"
    assert cairn.services.context.app.recorder.max_notification_id() == before
