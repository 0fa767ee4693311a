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
from entrypoints.projector_cli import projection_settings
from projections.engine.projector_host import ProjectorHost
from projections.views.runs.projector import Runs
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
            # The run's own events: what the workers learn from it cites it too.
            if frame.data and run_id in frame.data and str(frame.event).startswith("Run."):
                seen.append(str(frame.event).rsplit(".", 1)[-1])
            if "PolicyDecided" in seen:
                break
    assert seen[:3] == ["IntentSubmitted", "PlanProposed", "PolicyDecided"]


def test_a_client_follows_one_run_without_polling(live: LiveCairn) -> None:
    """Submit, wait on the stream filtered to the run, read the run once at the position of
    its last event: what a client does instead of polling `GET /v1/runs/{id}`."""
    ada = live.sign_up("follow")
    gateway = LiteLLMGateway(lambda model: MockAnswer.text(json.dumps(NOTE)))
    assert live.worker is not None
    runs = live.worker.runs
    runs.ports = dataclasses.replace(runs.ports, planner=LiteLLMPlanner(gateway=gateway))
    store_provider_key(
        live.services.identity.vault,
        uuid.UUID(ada.tenant),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test")),
    )
    with ProjectorHost(projection_settings(live.settings), [Runs]):
        submitted = [
            live.http.post(
                "/v1/intents",
                json={"text": f"note: buy milk {n}"},
                headers={**ada.headers, "Idempotency-Key": f"f-{n}"},
            ).json()
            for n in range(2)  # the other run's events must not reach this client
        ]
        followed = submitted[0]
        streamed: list[tuple[int, str, str]] = []
        with live.http.stream(
            "GET",
            "/v1/stream",
            params={"access_token": ada.token, "run_id": followed["run_id"]},
            headers={"Last-Event-ID": str(followed["position"])},
            timeout=30,
        ) as response:
            assert response.status_code == 200
            for frame in sse_frames(response.iter_lines()):
                if frame.id is not None and frame.event not in ("ready", None):
                    body = json.loads(frame.data)
                    streamed.append((frame.position, str(frame.event), body["aggregate_id"]))
                if frame.event in ("Run.RunCompleted", "Run.RunFailed"):
                    break
        last = streamed[-1][0]
        run = live.http.get(
            f"/v1/runs/{followed['run_id']}", headers=ada.headers, params={"after": last}
        )
    assert run.status_code == 200, run.text
    # (This server has no provider for the note, so the run fails at its step: an end all the
    # same.)
    ended = {"Run.RunCompleted": "completed", "Run.RunFailed": "failed"}[streamed[-1][1]]
    assert run.json()["status"] == ended
    assert {aggregate for _, _, aggregate in streamed} == {followed["run_id"]}
    # The stream showed every event after the submission, as the view's timeline has them.
    timeline = [entry["type"] for entry in run.json()["timeline"]]
    assert ["Run." + t for t in timeline[1:]] == [event for _, event, _ in streamed]
