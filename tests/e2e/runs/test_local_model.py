"""Use a local model: an OpenAI-compatible endpoint (base URL and model name) plans the runs,
through litellm, when the operator allows private addresses; without that setting loopback,
private and link-local endpoints are refused (the server is not an open proxy)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.context.extraction import SYSTEM as EXTRACTION
from commands.settings import CairnSettings
from tests.e2e.runs.test_guardrails import signed
from tests.e2e.runs.test_intent_lifecycle import SARAH, submit, wait_status
from tests.support.in_process import Cairn, Person
from tests.support.openai_stub import OpenAICompatibleStub
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e


@pytest.fixture
def allow_private() -> bool:
    return False


@pytest.fixture
def cairn_settings(cairn_settings: CairnSettings, allow_private: bool) -> CairnSettings:
    return dataclasses.replace(cairn_settings, allow_private_model_endpoints=allow_private)


@pytest.fixture
def local_model() -> Iterator[OpenAICompatibleStub]:
    with OpenAICompatibleStub(json.dumps(SARAH)) as stub:
        yield stub


def set_local(cairn: Cairn, person: Person, api_base: str, **more: Any) -> Any:
    body = {"provider": "local", "api_base": api_base, "model": "llama3.2", **more}
    return cairn.client.post("/v1/provider-keys", headers=person.headers, json=body)


def test_private_and_loopback_endpoints_are_refused_by_default(
    cairn: Cairn, local_model: OpenAICompatibleStub
) -> None:
    ada = cairn.sign_up("local-refused")
    port = local_model.base_url.rsplit(":", 1)[1]
    for endpoint in (
        local_model.base_url,
        f"http://localhost:{port}",
        "http://10.0.0.7:11434/v1",
        "http://[::1]:8080/v1",
        "http://169.254.169.254/latest",
    ):
        refused = set_local(cairn, ada, endpoint)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "model_endpoint_refused", error
        assert error["details"]["reason"] == "private_address"
        assert "CAIRN_ALLOW_PRIVATE_MODEL_ENDPOINTS" in error["message"]
    for endpoint, reason in (
        ("ftp://models.example/v1", "not_http"),
        ("http://x.invalid", "unresolvable"),
    ):
        refused = set_local(cairn, ada, endpoint)
        assert refused.status_code == 422 and refused.json()["error"]["details"]["reason"] == reason
    # Other providers' endpoints (a proxy) are held to the same rule.
    proxy = cairn.client.post(
        "/v1/provider-keys",
        headers=ada.headers,
        json={"provider": "openai", "api_key": "sk-0123456789", "api_base": local_model.base_url},
    )
    assert proxy.status_code == 422 and proxy.json()["error"]["code"] == "model_endpoint_refused"
    # A local model needs its URL and model name.
    incomplete = cairn.client.post(
        "/v1/provider-keys", headers=ada.headers, json={"provider": "local", "model": "m"}
    )
    assert incomplete.status_code == 422
    assert cairn.client.get("/v1/provider-keys", headers=ada.headers).json()["providers"] == []
    assert local_model.requests == []


@pytest.mark.parametrize("allow_private", [True])
def test_a_local_model_plans_the_run_when_the_operator_allows_private_addresses(
    cairn: Cairn, local_model: OpenAICompatibleStub, provider: FakeProvider
) -> None:
    ada = cairn.sign_up("local-model")
    # Still a change of what plans the runs: approved with a passkey bound to it.
    approval = signed(ada, set_local(cairn, ada, local_model.base_url))
    stored = set_local(cairn, ada, local_model.base_url, approval=approval)
    assert stored.status_code == 202, stored.text
    assert cairn.client.get("/v1/provider-keys", headers=ada.headers).json()["providers"] == [
        "local"
    ]
    # Link-local (cloud metadata) stays refused even then.
    metadata = set_local(cairn, ada, "http://169.254.169.254/v1")
    assert metadata.status_code == 422, metadata.text

    accepted = submit(cairn, ada, "Schedule a meeting with Sarah next Tuesday at 2pm")
    run = wait_status(cairn, ada, accepted["run_id"], "completed", "failed")
    assert run["status"] == "completed", run
    assert provider.performed("calendar.create_event") == 1
    # The planner's litellm call went to the local server, with the person's model name (the
    # background learner may ask the same model to extract facts from the intent: decision
    # 0037; it goes through the same key handling).
    planned = [r for r in local_model.requests if r["messages"][0]["content"] != EXTRACTION]
    assert len(planned) == 1
    asked = planned[0]
    assert asked["model"] == "llama3.2"
    assert "Sarah" in json.dumps(asked["messages"])
    # No key was given: the client sends a placeholder, never another provider's key.
    assert set(local_model.authorizations) == {"Bearer no-key"}
