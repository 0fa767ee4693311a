"""Guardrails a stolen token cannot remove (issue 12, decision 0015), over HTTP on the real
stack: household and personal policy layers, changes bound to a passkey, and replay."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx2 as httpx  # what fastapi's TestClient answers with
import pytest

from adapters.policy.defaults import HOUSEHOLD_DEFAULTS, PERSON_DEFAULTS
from adapters.policy.engine import CedarPolicyEngine
from domain.policy.model import DecisionInput, policy_version
from domain.runs.policies import HouseholdGuardrails, PolicySet
from tests.e2e.runs.test_intent_lifecycle import payment, submit, wait_status, with_model_answering
from tests.support.in_process import Cairn, Person
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e

PERMIT_ALL = '@id("everything") permit (principal, action, resource);\n'
PAYMENTS_NEED_APPROVAL = """
@id("household.payments-need-approval")
forbid (principal, action == Action::"payments.send", resource)
when { context.mode == "autonomous" };
"""


def put(
    cairn: Cairn, person: Person, path: str, text: str, approval: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"text": text}
    if approval is not None:
        body["approval"] = approval
    return cairn.client.put(path, headers=person.headers, json=body)


def signed(person: Person, refused: httpx.Response) -> dict[str, Any]:
    """The approval a person's passkey gives for what a 403 `step_up_required` asked to sign."""
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "step_up_required", error
    details = error["details"]
    return {
        "ceremony_id": details["ceremony_id"],
        "credential": person.authenticator.get(details["options"]),
    }


def approved_put(cairn: Cairn, person: Person, path: str, text: str) -> httpx.Response:
    approval = signed(person, put(cairn, person, path, text))
    return put(cairn, person, path, text, approval)


def decisions_replay_alike(cairn: Cairn, tenant_id: str, user_id: str, runs: list[str]) -> None:
    """Every recorded decision, replayed by a fresh engine from its inputs and the texts the
    store holds for the versions it names, gives the same outcome, policies and layer."""
    app = cairn.services.runs.app
    texts = {policy_version(PERSON_DEFAULTS): PERSON_DEFAULTS}
    household = {policy_version(HOUSEHOLD_DEFAULTS): HOUSEHOLD_DEFAULTS}
    tenant = uuid.UUID(tenant_id)
    for found, aggregate_id in (
        (texts, PolicySet.create_id(tenant, user_id)),
        (household, HouseholdGuardrails.create_id(tenant)),
    ):
        for stored in app.recorder.select_events(aggregate_id):
            event: Any = app.mapper.to_domain_event(stored)
            found[event.policy_version] = event.text
    fresh = CedarPolicyEngine()
    for run_id in runs:
        run: Any = app.repository.get(uuid.UUID(run_id))
        record: dict[str, Any] = run.decision
        recorded = DecisionInput.model_validate(record["input"])
        again = fresh.replay(
            recorded,
            texts[recorded.policy_version],
            household[recorded.household_version] if recorded.household_version else None,
        )
        assert again.model_dump(mode="json") == record


def test_a_token_without_a_fresh_passkey_cannot_lift_the_hard_cap(
    cairn: Cairn, provider: FakeProvider
) -> None:
    ada = cairn.sign_up("stolen")
    before = cairn.client.get("/v1/policies", headers=ada.headers).json()
    refused = put(cairn, ada, "/v1/policies", PERMIT_ALL)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "step_up_required"
    # What to sign: the challenge, which starts with the hash of exactly this change.
    change_hash, challenge = error["details"]["change_hash"], error["details"]["challenge"]
    assert error["details"]["options"]["challenge"] == challenge
    raw = base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))
    assert raw[:32].hex() == change_hash
    assert cairn.client.get("/v1/policies", headers=ada.headers).json() == before
    # The next 5,000 EUR payment is still denied, by the household's hard cap.
    with_model_answering(cairn, ada, payment("5000.00"))
    run_id = submit(cairn, ada, "Pay Bob 5000 euros")["run_id"]
    run = wait_status(cairn, ada, run_id, "denied", "failed", "completed", "escalated")
    assert run["status"] == "denied", run
    assert run["decision"]["outcome"] == "DENY"
    assert run["decision"]["policies"] == ["household.payments-hard-cap"]
    assert run["decision"]["decided_by"] == "household"
    assert provider.received() == 0
    decisions_replay_alike(cairn, ada.session["tenant_id"], ada.session["user_id"], [run_id])


def test_the_household_decides_what_a_persons_permit_all_cannot_approve(
    cairn: Cairn, provider: FakeProvider
) -> None:
    ada = cairn.sign_up("household")
    tenant_id, user_id = ada.session["tenant_id"], ada.session["user_id"]
    invited = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "bob@example.com"}
    )
    bob = cairn.accept(invited.json()["invitation_token"], "Bob")
    with_model_answering(cairn, ada, payment("20.00"))
    runs = [submit(cairn, ada, "Pay Bob 20 euros")["run_id"]]  # decided before any change
    assert wait_status(cairn, ada, runs[0], "escalated")["decision"]["decided_by"] == "person"

    # Ada replaces her policies with permit-all, approved with her passkey.
    changed = approved_put(cairn, ada, "/v1/policies", PERMIT_ALL)
    assert changed.status_code == 202, changed.text
    shown = cairn.client.get("/v1/policies", headers=ada.headers).json()
    assert (shown["text"], shown["is_default"]) == (PERMIT_ALL, False)
    assert shown["household"]["version"] == policy_version(HOUSEHOLD_DEFAULTS)
    runs.append(submit(cairn, ada, "Pay Bob 20 euros")["run_id"])
    approved = wait_status(cairn, ada, runs[-1], "completed", "failed", "denied", "escalated")
    assert (approved["status"], approved["decision"]["policies"]) == ("completed", ["everything"])
    with_model_answering(cairn, ada, payment("5000.00"))
    runs.append(submit(cairn, ada, "Pay Bob 5000 euros")["run_id"])
    denied = wait_status(cairn, ada, runs[-1], "denied", "failed", "completed", "escalated")
    assert denied["decision"]["policies"] == ["household.payments-hard-cap"]

    # A member cannot change the household guardrails, with or without a passkey.
    stricter = HOUSEHOLD_DEFAULTS + PAYMENTS_NEED_APPROVAL
    refused = put(cairn, bob, "/v1/policies/household", stricter)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    # An admin can; adding a guardrail only narrows, so it needs no passkey.
    added = put(cairn, ada, "/v1/policies/household", stricter)
    assert added.status_code == 202, added.text
    with_model_answering(cairn, ada, payment("20.00"))
    runs.append(submit(cairn, ada, "Pay Bob 20 euros")["run_id"])
    waiting = wait_status(cairn, ada, runs[-1], "escalated", "completed", "denied", "failed")
    assert waiting["status"] == "escalated", waiting
    assert waiting["decision"]["policies"] == ["household.payments-need-approval"]
    assert waiting["decision"]["decided_by"] == "household"

    # Lifting a guardrail widens: refused without a passkey, applied with one.
    lifted = put(cairn, ada, "/v1/policies/household", HOUSEHOLD_DEFAULTS)
    assert lifted.status_code == 403 and lifted.json()["error"]["code"] == "step_up_required"
    assert approved_put(cairn, ada, "/v1/policies/household", HOUSEHOLD_DEFAULTS).status_code == 202
    runs.append(submit(cairn, ada, "Pay Bob 20 euros")["run_id"])
    done = wait_status(cairn, ada, runs[-1], "completed", "escalated", "denied", "failed")
    assert done["status"] == "completed", done
    assert provider.performed("payments.send") == 2

    # Every decision, before and after each change, replays to the same result.
    decisions_replay_alike(cairn, tenant_id, user_id, runs)
    # Every change and every attempt is a security event, seen from the person's other device.
    laptop = cairn.log_in(ada.authenticator)
    events = cairn.client.get(
        "/v1/security-events",
        headers=laptop.headers,
        params={"after": cairn.services.runs.app.recorder.max_notification_id(), "limit": 100},
    )
    assert events.status_code == 200, events.text
    kinds = [(item["kind"], item["outcome"]) for item in events.json()["items"]]
    assert kinds.count(("policies_changed", "succeeded")) == 1
    assert kinds.count(("guardrails_changed", "succeeded")) == 2
    assert ("policies_change", "approval_required") in kinds
    assert kinds.count(("guardrails_change", "approval_required")) == 2


def test_an_assertion_for_one_text_cannot_apply_another_or_the_same_twice(cairn: Cairn) -> None:
    ada = cairn.sign_up("bound")
    before = cairn.client.get("/v1/policies", headers=ada.headers).json()["version"]
    approval = signed(ada, put(cairn, ada, "/v1/policies", PERMIT_ALL))
    other = PERMIT_ALL.replace("everything", "anything")
    mismatch = put(cairn, ada, "/v1/policies", other, approval)
    assert mismatch.status_code == 401, mismatch.text
    assert mismatch.json()["error"]["code"] == "passkey_plan_mismatch"
    assert cairn.client.get("/v1/policies", headers=ada.headers).json()["version"] == before
    # The ceremony was spent by that attempt: not even its own text can use it now.
    spent = put(cairn, ada, "/v1/policies", PERMIT_ALL, approval)
    assert spent.json()["error"]["code"] == "passkey_ceremony_unknown"
    assert cairn.client.get("/v1/policies", headers=ada.headers).json()["version"] == before
    # A fresh approval for the text applies it once; presented again, it is refused.
    approval = signed(ada, put(cairn, ada, "/v1/policies", PERMIT_ALL))
    assert put(cairn, ada, "/v1/policies", PERMIT_ALL, approval).status_code == 202
    restored = approved_put(cairn, ada, "/v1/policies", PERSON_DEFAULTS)
    assert restored.status_code == 202, restored.text
    again = put(cairn, ada, "/v1/policies", PERMIT_ALL, approval)
    assert again.json()["error"]["code"] == "passkey_ceremony_unknown"
    assert cairn.client.get("/v1/policies", headers=ada.headers).json()["version"] == before


def test_model_keys_are_set_only_with_a_passkey_bound_to_the_key(cairn: Cairn) -> None:
    ada = cairn.sign_up("modelkeys")
    body = {"provider": "anthropic", "api_key": "sk-live-" + uuid.uuid4().hex}
    refused = cairn.client.post("/v1/provider-keys", headers=ada.headers, json=body)
    approval = signed(ada, refused)
    assert body["api_key"] not in refused.text
    assert cairn.client.get("/v1/provider-keys", headers=ada.headers).json()["providers"] == []
    elsewhere = {**body, "api_base": "https://models.evil.example", "approval": approval}
    moved = cairn.client.post("/v1/provider-keys", headers=ada.headers, json=elsewhere)
    assert moved.json()["error"]["code"] == "passkey_plan_mismatch"
    refused = cairn.client.post("/v1/provider-keys", headers=ada.headers, json=body)
    stored = cairn.client.post(
        "/v1/provider-keys", headers=ada.headers, json={**body, "approval": signed(ada, refused)}
    )
    assert stored.status_code == 202, stored.text
    listed = cairn.client.get("/v1/provider-keys", headers=ada.headers).json()
    assert listed["providers"] == ["anthropic"]
