"""Provider keys over HTTP: stored encrypted, listed by name only, used by the planner."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.runs.test_guardrails import signed
from tests.e2e.runs.test_intent_lifecycle import SARAH, submit, wait_status, with_model_answering
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def test_admin_stores_a_key_that_is_never_shown_and_the_planner_uses_it(cairn: Cairn) -> None:
    ada = cairn.sign_up("keys")
    secret = "sk-live-" + uuid.uuid4().hex
    body = {"provider": "anthropic", "api_key": secret}
    refused = cairn.client.post("/v1/provider-keys", headers=ada.headers, json=body)
    stored = cairn.client.post(
        "/v1/provider-keys", headers=ada.headers, json={**body, "approval": signed(ada, refused)}
    )
    assert stored.status_code == 202, stored.text
    assert stored.json()["provider"] == "anthropic" and stored.json()["position"] is not None
    listed = cairn.client.get("/v1/provider-keys", headers=ada.headers)
    assert listed.json() == {"providers": ["anthropic"]}
    assert secret not in refused.text + stored.text + listed.text
    with_model_answering(cairn, ada, SARAH)  # adds an OpenAI key too
    run_id = submit(cairn, ada, "Schedule a meeting with Sarah")["run_id"]
    assert wait_status(cairn, ada, run_id, "completed", "failed")["status"] == "completed"


def test_members_cannot_set_keys_and_bad_input_is_refused(cairn: Cairn) -> None:
    ada = cairn.sign_up("keys2")
    token = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "bob@example.com"}
    ).json()["invitation_token"]
    bob = cairn.accept(token, "Bob")
    refused = cairn.client.post(
        "/v1/provider-keys",
        headers=bob.headers,
        json={"provider": "openai", "api_key": "sk-0123456789"},
    )
    assert refused.status_code == 403
    unknown = cairn.client.post(
        "/v1/provider-keys",
        headers=ada.headers,
        json={"provider": "nope", "api_key": "sk-0123456789"},
    )
    assert unknown.status_code == 422
    assert "sk-0123456789" not in unknown.text
