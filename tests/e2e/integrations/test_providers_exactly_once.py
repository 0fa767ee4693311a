"""Exactly once at real provider APIs (their local fakes): a `cairn worker` process is SIGKILLed
after Google or Graph created the event but before `StepSucceeded` was stored (with or without
the outbox's receipt), or before it called the provider at all; after another worker process
takes the run over, the calendar holds exactly one event for that step. The access token
appears in no event and no log line."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.failpoints import ENV as FAILPOINTS
from adapters.integrations.providers.ids import google_event_id, graph_transaction_id
from api.app import create_app
from api.settings import ServiceUrls
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from commands.settings import CairnSettings
from domain.runs.run import step_idempotency_key
from entrypoints.projector_cli import projection_settings
from projections.engine.projector_host import ProjectorHost
from projections.views.runs.projector import Runs
from tests.support.fake_google import FakeGoogle
from tests.support.fake_graph import FakeGraph
from tests.support.in_process import Cairn, Person
from tests.support.provider_worker import TOKEN_ENV

pytestmark = pytest.mark.e2e

TOKEN = "ya29.e2e-canary-token-5d1e"  # a canary: searched for in events and logs


def meeting(provider: str) -> dict[str, Any]:
    return {
        "summary": "Meeting with Sarah",
        "steps": [
            {
                "step_id": "s1",
                "action": "calendar.create_event",
                "provider": provider,
                "parameters": {
                    "title": "Meeting with Sarah",
                    "start": "2026-12-01T14:00:00Z",
                    "end": "2026-12-01T15:00:00Z",
                    "attendees": ["sarah@example.com"],
                },
            }
        ],
    }


@pytest.fixture
def fakes() -> Iterator[tuple[FakeGoogle, FakeGraph]]:
    google = FakeGoogle({TOKEN}, deliver=lambda *_: None).start()
    graph = FakeGraph({TOKEN}, deliver=lambda *_: None).start()
    yield google, graph  # type: ignore[misc]
    google.stop()
    graph.stop()


def start_worker(
    settings: CairnSettings, logs: Path, failpoint: str = ""
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.as_env(), TOKEN_ENV: TOKEN, FAILPOINTS: failpoint}
    log = (logs / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.provider_worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def run_status(cairn: Cairn, person: Person, run_id: str) -> dict[str, Any]:
    answer = cairn.client.get(f"/v1/runs/{run_id}", headers=person.headers)
    return answer.json() if answer.status_code == 200 else {}


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.long(14)
@pytest.mark.parametrize("which", ["google", "microsoft"])
@pytest.mark.parametrize(
    "kill_at",
    [
        "before-outbox-receipt",  # created; neither the receipt nor StepSucceeded stored
        "after-provider-call",  # created, receipt stored; StepSucceeded not
        "before-provider-call",  # StepStarted stored; the provider never heard of it
    ],
)
def test_a_killed_worker_creates_the_event_once(
    cairn_settings: CairnSettings,
    fakes: tuple[FakeGoogle, FakeGraph],
    tmp_path: Path,
    which: str,
    kill_at: str,
) -> None:
    google, graph = fakes
    answer = tmp_path / "plan.json"
    answer.write_text(json.dumps(meeting(which)))
    urls = {"google": google.base_url, "microsoft": graph.base_url}
    s = dataclasses.replace(
        cairn_settings, llm_mock_answer_file=answer, provider_urls=urls, worker_ack_wait_s=2.0
    )
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
        dying = start_worker(s, tmp_path, f"{kill_at}=1")
        accepted = client.post(
            "/v1/intents",
            headers={**ada.headers, "Idempotency-Key": uuid.uuid4().hex},
            json={"text": "Schedule a meeting with Sarah"},
        )
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]
        assert dying.wait(120) == -9  # SIGKILLed at its failpoint
        created = google.inserts + graph.creates
        assert created == (0 if kill_at == "before-provider-call" else 1)
        # The runs view catches up with the dead worker's StepStarted.
        wait_for(lambda: run_status(cairn, ada, run_id).get("status") == "executing")

        healthy = start_worker(s, tmp_path)
        try:
            wait_for(lambda: run_status(cairn, ada, run_id).get("status") == "completed")
        finally:
            healthy.terminate()
            healthy.wait(30)
        key = step_idempotency_key(uuid.UUID(run_id), "s1")
        if which == "google":
            assert list(google.live_events()) == [google_event_id(key)]
            assert google.inserts == 1 and graph.events == {}
            # Without a stored receipt the retry met 409 `duplicate` and read the event back.
            posts = 2 if kill_at == "before-outbox-receipt" else 1
            assert google.calls("POST", r".*/primary/events") == posts
        else:
            events = list(graph.live_events().values())
            assert [e["transactionId"] for e in events] == [graph_transaction_id(key)]
            assert graph.creates == 1 and google.events == {}
            # Without a stored receipt the retry sent the same transactionId again.
            posts = 2 if kill_at == "before-outbox-receipt" else 1
            assert graph.calls("POST", r"/v1.0/me/events") == posts
        # The canary: in no stored event of the run and no line a worker logged.
        recorder = cairn.services.runs.app.recorder
        stored = b"".join(e.state for e in recorder.select_events(uuid.UUID(run_id)))
        assert TOKEN.encode() not in stored
        for log in tmp_path.glob("worker-*.log"):
            assert TOKEN not in log.read_text(errors="replace")
