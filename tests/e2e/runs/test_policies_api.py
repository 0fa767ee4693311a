"""GET/PUT /v1/policies and the dry run, through HTTP on the real stack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def _plan(amount: str) -> dict[str, Any]:
    return {
        "summary": "Pay Bob",
        "steps": [
            {
                "step_id": "s1",
                "action": "payments.send",
                "provider": "bank",
                "parameters": {"recipient": "bob", "amount": amount, "currency": "EUR"},
            }
        ],
    }


def test_defaults_then_a_change_is_an_event_and_takes_effect(cairn: Cairn) -> None:
    ada = cairn.sign_up("policies")
    first = cairn.client.get("/v1/policies", headers=ada.headers)
    assert first.status_code == 200, first.text
    assert first.json()["is_default"] is True
    note = {
        "summary": "Note",
        "steps": [
            {
                "step_id": "s1",
                "action": "notes.create",
                "provider": "local",
                "parameters": {"title": "t", "body": "b"},
            }
        ],
    }
    approve = cairn.client.post("/v1/policies/evaluate", headers=ada.headers, json={"plan": note})
    assert approve.status_code == 200, approve.text
    assert approve.json()["outcome"] == "APPROVE"

    stricter = first.json()["text"] + (
        '\n@id("no-notes")\nforbid(principal, action == Action::"notes.create", resource);\n'
    )
    changed = cairn.client.put("/v1/policies", headers=ada.headers, json={"text": stricter})
    assert changed.status_code == 202, changed.text
    assert changed.json()["policy_version"] != first.json()["version"]
    assert changed.json()["position"] is not None
    now = cairn.client.get("/v1/policies", headers=ada.headers).json()
    assert now["is_default"] is False and now["version"] == changed.json()["policy_version"]
    denied = cairn.client.post(
        "/v1/policies/evaluate", headers=ada.headers, json={"plan": note}
    ).json()
    assert denied["outcome"] == "DENY"
    assert "no-notes" in denied["policies"]


def test_invalid_policy_text_is_refused_and_changes_nothing(cairn: Cairn) -> None:
    ada = cairn.sign_up("badpolicy")
    before = cairn.client.get("/v1/policies", headers=ada.headers).json()
    bad = '@id("x")\npermit(principal, action == Action::"shell.exec", resource);'
    response = cairn.client.put("/v1/policies", headers=ada.headers, json={"text": bad})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_policies"
    assert error["details"]["problems"]
    assert cairn.client.get("/v1/policies", headers=ada.headers).json() == before


def test_dry_run_of_a_payment_escalates_above_the_users_limit(cairn: Cairn) -> None:
    ada = cairn.sign_up("dryrun")
    response = cairn.client.post(
        "/v1/policies/evaluate", headers=ada.headers, json={"plan": _plan("20.00")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] in ("ESCALATE", "DENY")
    assert body["input"]["plan_hash"]
    unknown = cairn.client.post(
        "/v1/policies/evaluate",
        headers=ada.headers,
        json={
            "plan": {
                "summary": "x",
                "steps": [
                    {"step_id": "s1", "action": "shell.exec", "provider": "x", "parameters": {}}
                ],
            }
        },
    )
    assert unknown.status_code in (400, 422)
