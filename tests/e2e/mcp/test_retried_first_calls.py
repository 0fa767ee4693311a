"""A first tool call carries no requestState, and MCP gives it no idempotency key: a client
retrying a call it never got the answer to must not start a second run (decision 0035). The
client's own key in `_meta` names the run for good; without one, the same call from the same
client within the dedupe window is the same run."""

from __future__ import annotations

from typing import Any

import pytest
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY

from commands.mcp.invoke import IDEMPOTENCY_META_KEY
from tests.e2e.mcp.test_decisions import tool
from tests.e2e.mcp.test_resource_server import HOST, token_for
from tests.support.in_process import Cairn
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e
NOTE = {"title": "Milk", "body": "2 litres"}
PAY = {"recipient": "bob", "amount": "20.00", "currency": "EUR"}
VERSION = "2026-07-28"


def keyed(
    cairn: Cairn, token: str, name: str, arguments: dict[str, Any], key: str
) -> dict[str, Any]:
    """A tools/call as the SDK's client sends it at 2026-07-28 (the envelope in `_meta` and
    the routing headers), with the client's idempotency key."""
    meta = {
        PROTOCOL_VERSION_META_KEY: VERSION,
        CLIENT_CAPABILITIES_META_KEY: {},
        IDEMPOTENCY_META_KEY: key,
    }
    body = {
        "jsonrpc": "2.0",
        "id": 8,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": meta},
    }
    headers = {
        "Host": HOST,
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token}",
        "MCP-Protocol-Version": VERSION,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }
    answer = cairn.client.post("/mcp", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def test_a_retried_call_without_key_is_the_same_run_and_acts_once(
    cairn: Cairn, provider: FakeProvider
) -> None:
    person = cairn.sign_up("retry-home")
    token = token_for(cairn, person, ("runs:write",))
    first = tool(cairn, token, "notes.create", NOTE)
    again = tool(cairn, token, "notes.create", NOTE)
    assert first["structuredContent"]["status"] == "completed", first
    assert again["structuredContent"]["run_id"] == first["structuredContent"]["run_id"]
    assert provider.performed("notes.create") == 1

    # Other arguments are another call; so is the same call from another client (grant).
    other = tool(cairn, token, "notes.create", {**NOTE, "body": "3 litres"})
    assert other["structuredContent"]["run_id"] != first["structuredContent"]["run_id"]
    laptop = cairn.log_in(person.authenticator)  # another device of the person
    second_client = token_for(cairn, laptop, ("runs:write",))
    elsewhere = tool(cairn, second_client, "notes.create", NOTE)
    assert elsewhere["structuredContent"]["run_id"] != first["structuredContent"]["run_id"]
    assert provider.performed("notes.create") == 3


def test_a_clients_key_names_one_run_and_cannot_be_reused_for_another_call(
    cairn: Cairn, provider: FakeProvider
) -> None:
    person = cairn.sign_up("keyed-home")
    token = token_for(cairn, person, ("runs:write",))
    asked = keyed(cairn, token, "payments.send", PAY, "pay-bob-1")
    assert asked["resultType"] == "input_required", asked
    retried = keyed(cairn, token, "payments.send", PAY, "pay-bob-1")
    assert retried["requestState"] == asked["requestState"]

    reused = keyed(cairn, token, "payments.send", {**PAY, "amount": "30.00"}, "pay-bob-1")
    assert reused["isError"] is True
    assert reused["structuredContent"]["error"] == "idempotency_key_reused"
    # Another key is the client's way to ask for the same payment twice on purpose.
    twice = keyed(cairn, token, "payments.send", PAY, "pay-bob-2")
    assert twice["requestState"] != asked["requestState"]
    bad = keyed(cairn, token, "notes.create", NOTE, "")
    assert bad["structuredContent"]["error"] == "invalid_idempotency_key"
    assert provider.performed("payments.send") == 0
