"""Canaries in the model prompt: with a Google account connected (its calendar followed and
synced), an intent planned through the production gateway with litellm's own mock answer
sends the model no access or refresh token, authorization code or client secret.

What the model receives is captured at litellm itself (`litellm.completion` wrapped by the
test, the call passed on unchanged): the exact messages, as litellm would send them."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from adapters.llm.gateway import load_litellm
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from commands.settings import CairnSettings
from tests.support.fake_google import FakeGoogle
from tests.support.in_process import Cairn, Person
from tests.support.live_tokens import LiveTokens
from tests.support.oauth_server import CLIENT_SECRET, TestOAuthServer

pytestmark = pytest.mark.e2e

INTENT = "Schedule a meeting with Sarah next Tuesday at 2pm"
MODEL_KEY = "sk-prompt-canary-5b1e"
PLAN = {
    "summary": "Meeting with Sarah next Tuesday at 2pm",
    "steps": [
        {
            "step_id": "s1",
            "action": "calendar.create_event",
            "provider": "google",
            "parameters": {
                "title": "Meeting with Sarah",
                "start": "2026-12-08T14:00:00Z",
                "end": "2026-12-08T15:00:00Z",
                "attendees": ["sarah@example.com"],
            },
        }
    ],
}


@pytest.fixture
def oauth() -> Iterator[TestOAuthServer]:
    with TestOAuthServer("http://localhost/console/connections-callback.html") as server:
        yield server


@pytest.fixture
def google(oauth: TestOAuthServer) -> Iterator[FakeGoogle]:
    fake = FakeGoogle()
    fake.tokens = LiveTokens(oauth)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def cairn_settings(
    cairn_settings: CairnSettings, oauth: TestOAuthServer, google: FakeGoogle, tmp_path: Path
) -> CairnSettings:
    oauth.redirect_uris[:] = [f"{cairn_settings.origins[0]}/console/connections-callback.html"]
    answer = tmp_path / "plan.json"
    answer.write_text(json.dumps(PLAN))
    return dataclasses.replace(
        cairn_settings,
        oauth_providers={"google": oauth.provider_entry()},
        provider_urls={"google": google.base_url},
        webhook_base_url="http://testserver",
        llm_mock_answer_file=answer,  # the worker's own gateway answers with litellm's mock
    )


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call's keyword arguments as litellm receives them (a deep copy: the gateway
    clears its own dict after the call)."""
    litellm = load_litellm()
    calls: list[dict[str, Any]] = []
    real: Callable[..., Any] = litellm.completion

    def completion(**kwargs: Any) -> Any:
        calls.append(copy.deepcopy({k: v for k, v in kwargs.items() if k != "client"}))
        return real(**kwargs)

    monkeypatch.setattr(litellm, "completion", completion)
    return calls


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def connect(cairn: Cairn, person: Person, oauth: TestOAuthServer) -> None:
    started = cairn.client.post("/v1/connections/google/connect", json={}, headers=person.headers)
    assert started.status_code == 200, started.text
    params = oauth.approve(started.json()["authorization_url"])
    done = cairn.client.post("/v1/connections/callback", json=params, headers=person.headers)
    assert done.status_code == 202, done.text


def run_status(cairn: Cairn, person: Person, run_id: str) -> str:
    answer = cairn.client.get(f"/v1/runs/{run_id}", headers=person.headers)
    return str(answer.json().get("status")) if answer.status_code == 200 else "unknown"


def test_no_token_code_or_client_secret_reaches_the_model_prompt(
    cairn: Cairn, oauth: TestOAuthServer, google: FakeGoogle, prompts: list[dict[str, Any]]
) -> None:
    ada = cairn.sign_up("prompt-canary")
    google.deliver = lambda url, headers, _body: cairn.client.post(
        urlsplit(url).path, headers=headers
    )
    google.add_event("Dentist", "2026-12-07T09:00:00+00:00", "2026-12-07T10:00:00+00:00")
    connect(cairn, ada, oauth)
    wait_for(lambda: bool(google.channels), "the calendar feed opened")
    wait_for(lambda: google.calls("GET", r".*/primary/events") >= 1, "the calendar synced")
    store_provider_key(
        cairn.services.identity.vault,
        uuid.UUID(ada.session["tenant_id"]),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr(MODEL_KEY)),
    )

    accepted = cairn.client.post(
        "/v1/intents",
        headers={**ada.headers, "Idempotency-Key": uuid.uuid4().hex},
        json={"text": INTENT},
    )
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    wait_for(lambda: run_status(cairn, ada, run_id) == "completed", "the run completed")

    planned = [call for call in prompts if INTENT in json.dumps(call["messages"])]
    assert planned, "the planner's prompt was not captured"
    assert google.inserts == 1  # the plan acted with the connected account's own token
    canaries = oauth.every_secret()
    # Access and refresh tokens, the authorization code and the client secret all issued.
    assert CLIENT_SECRET in canaries and len(canaries) >= 4
    for call in prompts:
        messages = json.dumps(call["messages"])
        rest = json.dumps({k: v for k, v in call.items() if k != "api_key"}, default=str)
        for canary in canaries:
            assert canary not in messages
            assert canary not in rest
        assert call["api_key"] == MODEL_KEY  # the model's own key, and nothing else
