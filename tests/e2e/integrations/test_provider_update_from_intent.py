"""From an intent to a change at the provider: "move my meeting with Sarah" is planned by the
model (litellm's mock) as a free/busy read and an update of the event, the policy lets the read
run alone but asks the person for the update, the person approves with a passkey, and a
`cairn worker` process reads the calendar and PATCHes the event at Google or Graph (their local
fakes). The read's result is in the run, bounded; the token in no event."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.integrations.providers.ids import step_marker
from api.app import create_app
from api.settings import ServiceUrls
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from commands.settings import CairnSettings
from domain.runs.run import step_idempotency_key
from entrypoints.projector_cli import projection_settings
from projections.engine.projector_host import ProjectorHost
from projections.views.runs.projector import Runs
from tests.e2e.integrations.test_providers_exactly_once import (
    TOKEN,
    run_status,
    start_worker,
    wait_for,
)
from tests.support.fake_google import FakeGoogle
from tests.support.fake_graph import FakeGraph
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeGoogle | FakeGraph]]:
    google = FakeGoogle({TOKEN}, deliver=lambda *_: None)
    graph = FakeGraph({TOKEN}, deliver=lambda *_: None)
    google.start()
    graph.start()
    yield {"google": google, "microsoft": graph}
    google.stop()
    graph.stop()


def plan(provider: str, event_id: str) -> dict[str, object]:
    return {
        "summary": "Move the meeting with Sarah to 4pm",
        "steps": [
            {
                "step_id": "s1",
                "action": "calendar.free_busy",
                "provider": provider,
                "parameters": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"},
            },
            {
                "step_id": "s2",
                "action": "calendar.update_event",
                "provider": provider,
                "parameters": {
                    "event_id": event_id,
                    "start": "2026-12-01T16:00:00Z",
                    "end": "2026-12-01T17:00:00Z",
                },
            },
        ],
    }


@pytest.mark.long(12)
@pytest.mark.parametrize("which", ["google", "microsoft"])
def test_an_intent_moves_an_event_at_the_provider_after_approval(
    cairn_settings: CairnSettings,
    fakes: dict[str, FakeGoogle | FakeGraph],
    tmp_path: Path,
    which: str,
) -> None:
    fake = fakes[which]
    event_id = fake.add_event("Meeting with Sarah", "2026-12-01T14:00:00Z", "2026-12-01T15:00:00Z")
    answer = tmp_path / "plan.json"
    answer.write_text(json.dumps(plan(which, event_id)))
    urls = {name: f.base_url for name, f in fakes.items()}
    s = dataclasses.replace(cairn_settings, llm_mock_answer_file=answer, provider_urls=urls)
    service_urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    projectors = ProjectorHost(projection_settings(s), [Runs])
    with TestClient(create_app(service_urls, settings=s)) as client, projectors:
        cairn = Cairn(client)
        ada = cairn.sign_up("ada")
        tenant = uuid.UUID(ada.session["tenant_id"])
        store_provider_key(
            cairn.services.identity.vault,
            tenant,
            LlmProvider.OPENAI,
            ProviderCredential(api_key=SecretStr("sk-test")),
        )
        worker = start_worker(s, tmp_path)
        try:
            accepted = client.post(
                "/v1/intents",
                headers={**ada.headers, "Idempotency-Key": uuid.uuid4().hex},
                json={"text": "Move my meeting with Sarah to 4pm"},
            )
            assert accepted.status_code == 202, accepted.text
            run_id = accepted.json()["run_id"]
            wait_for(lambda: run_status(cairn, ada, run_id).get("status") == "escalated")
            run = run_status(cairn, ada, run_id)
            steps = {s["step_id"]: s for s in run["decision"]["steps"]}
            assert steps["s1"]["outcome"] == "APPROVE" and steps["s2"]["outcome"] == "ESCALATE"
            assert "calendar.change-with-approval" in run["decision"]["policies"]
            assert fake.calls("PATCH", r".*/events/.*") == 0  # nothing before the person says so

            ada.sdk.approve(run_id, ada.authenticator)
            wait_for(lambda: run_status(cairn, ada, run_id).get("status") == "completed")
        finally:
            worker.terminate()
            worker.wait(30)
        event = fake.live_events()[event_id]
        assert event["start"]["dateTime"].startswith("2026-12-01T16:00:00")
        assert fake.calls("PATCH", r".*/events/.*") == 1
        marker = step_marker(step_idempotency_key(uuid.UUID(run_id), "s2"))
        assert marker in json.dumps(event)
        done = run_status(cairn, ada, run_id)["steps"]
        (own,) = done["s1"]["result"]["calendars"]
        assert own["calendar"] == "primary" and own["truncated"] is False
        assert [b["start"][11:16] for b in own["busy"]] == ["14:00"]  # read before the move
        assert done["s2"]["result"]["id"] == event_id
        recorder = cairn.services.runs.app.recorder
        stored = b"".join(e.state for e in recorder.select_events(uuid.UUID(run_id)))
        assert TOKEN.encode() not in stored
