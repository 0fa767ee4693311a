"""Action tool calls are decided by the same Cedar policies as intents: a note (permitted
autonomously) runs at once; a 5,000 EUR payment (over the household's hard cap) is a tool
error naming the policy and never reaches the provider; a requestState is only ever the
caller's own call."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.mcp.test_resource_server import HOST, token_for
from tests.support.in_process import Cairn
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e


def tool(cairn: Cairn, token: str, name: str, arguments: dict[str, Any], **params: Any) -> Any:
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, **params},
    }
    headers = {
        "Host": HOST,
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token}",
    }
    answer = cairn.client.post("/mcp", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def test_approve_runs_at_once_and_deny_names_the_policy(
    cairn: Cairn, provider: FakeProvider
) -> None:
    person = cairn.sign_up("decisions-home")
    token = token_for(cairn, person, ("runs:read", "runs:write"))
    note = tool(cairn, token, "notes.create", {"title": "Milk", "body": "2 litres"})
    assert note["isError"] is False, note
    assert note["structuredContent"]["status"] == "completed"
    assert note["structuredContent"]["policies"] == ["notes.autonomous"]
    assert provider.performed("notes.create") == 1

    pay = {"recipient": "mallory", "amount": "5000.00", "currency": "EUR"}
    denied = tool(cairn, token, "payments.send", pay)
    assert denied["isError"] is True
    assert denied["structuredContent"]["status"] == "denied"
    assert "household.payments-hard-cap" in denied["structuredContent"]["message"]
    assert provider.performed("payments.send") == 0

    # The note's state does not stand for another call, nor does anything Cairn did not give.
    state = f"cairn-run:{note['structuredContent']['run_id']}"
    mismatch = tool(cairn, token, "payments.send", pay, requestState=state)
    assert mismatch["isError"] is True
    assert mismatch["structuredContent"]["error"] == "request_state_mismatch"
    forged = tool(cairn, token, "notes.create", {"title": "x", "body": "y"}, requestState="x")
    assert forged["structuredContent"]["error"] == "request_state_mismatch"
    assert provider.performed("payments.send") == 0

    # Another person's run is not found through its state.
    other = cairn.sign_up("other-home", email="eve@example.com")
    theirs = token_for(cairn, other, ("runs:write",))
    stolen = tool(
        cairn, theirs, "notes.create", {"title": "Milk", "body": "2 litres"}, requestState=state
    )
    assert stolen["structuredContent"]["error"] == "not_found"
    assert provider.performed("notes.create") == 1


def test_parameters_are_checked_against_the_actions_model(cairn: Cairn) -> None:
    person = cairn.sign_up("params-home")
    token = token_for(cairn, person, ("runs:write",))
    bad = tool(
        cairn, token, "payments.send", {"recipient": "bob", "amount": "-1", "currency": "EUR"}
    )
    assert bad["isError"] is True
    assert bad["structuredContent"]["error"] == "invalid_action_parameters"
    extra = tool(cairn, token, "notes.create", {"title": "a", "body": "b", "shell": "rm -rf /"})
    assert extra["structuredContent"]["error"] == "invalid_action_parameters"
