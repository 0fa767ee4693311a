"""Push subscribers see a run's progress as it happens."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from pydantic import SecretStr

from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from adapters.llm.planner import LiteLLMPlanner
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from tests.e2e.push.harness import LiveCairn, sse_frames

pytestmark = pytest.mark.e2e

NOTE = {
    "summary": "A note",
    "steps": [
        {
            "step_id": "s1",
            "action": "notes.create",
            "provider": "local",
            "parameters": {"title": "milk", "body": "buy"},
        }
    ],
}


def test_sse_shows_the_run_from_intent_to_decision(live: LiveCairn) -> None:
    ada = live.sign_up("progress")
    services = live.services
    gateway = LiteLLMGateway(lambda model: MockAnswer.text(json.dumps(NOTE)))
    assert live.worker is not None
    runs = live.worker.runs
    runs.ports = dataclasses.replace(runs.ports, planner=LiteLLMPlanner(gateway=gateway))
    store_provider_key(
        services.identity.vault,
        uuid.UUID(ada.tenant),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test")),
    )
    start = str(live.recorder.max_notification_id() or 0)
    accepted = live.http.post(
        "/v1/intents",
        json={"text": "note: buy milk"},
        headers={**ada.headers, "Idempotency-Key": "p-1"},
    )
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    seen: list[str] = []
    with live.http.stream(
        "GET",
        "/v1/stream",
        params={"access_token": ada.token},
        headers={"Last-Event-ID": start},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        for frame in sse_frames(response.iter_lines()):
            if frame.data and run_id in frame.data:
                seen.append(str(frame.event).rsplit(".", 1)[-1])
            if "PolicyDecided" in seen:
                break
    assert seen[:3] == ["IntentSubmitted", "PlanProposed", "PolicyDecided"]
