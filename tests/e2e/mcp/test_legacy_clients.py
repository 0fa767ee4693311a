"""A client of an older protocol (raw JSON-RPC, no 2026-07-28 `_meta` envelope) is served as
legacy by the SDK, where an `input_required` result does not exist. Such a client whose call
escalates gets a tool error naming the console URL and the run; once the person approved,
retrying the same call (twice) executes it exactly once (decision 0030). No body, however
malformed, gets a 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from commands.mcp.invoke import IDEMPOTENCY_META_KEY
from tests.e2e.mcp.test_resource_server import HOST, token_for
from tests.support.authenticator import EXAMPLE_ORIGIN
from tests.support.in_process import Cairn
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e
OLD = "2025-06-18"
PAY = {"recipient": "bob", "amount": "20.00", "currency": "EUR"}


def rpc(cairn: Cairn, token: str, body: Any, *, version: str | None = OLD) -> Any:
    headers = {
        "Host": HOST,
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token}",
    }
    if version is not None:
        headers["MCP-Protocol-Version"] = version
    if isinstance(body, bytes):
        headers["Content-Type"] = "application/json"
        return cairn.client.post("/mcp", content=body, headers=headers)
    return cairn.client.post("/mcp", json=body, headers=headers)


def initialize(cairn: Cairn, token: str) -> None:
    params = {
        "protocolVersion": OLD,
        "capabilities": {},
        "clientInfo": {"name": "old-client", "version": "1"},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    answer = rpc(cairn, token, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["protocolVersion"] == OLD


def pay(cairn: Cairn, token: str, *, key: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "payments.send", "arguments": PAY}
    if key is not None:
        params["_meta"] = {IDEMPOTENCY_META_KEY: key}
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}
    answer = rpc(cairn, token, body, version=OLD if key else None)
    assert answer.status_code == 200, answer.text
    reply: dict[str, Any] = answer.json()
    assert "error" not in reply, reply
    result: dict[str, Any] = reply["result"]
    return result


@pytest.mark.parametrize("handshake", [True, False], ids=["initialized", "bare"])
def test_an_escalated_call_of_an_old_client_is_a_tool_error_naming_the_console(
    cairn: Cairn, provider: FakeProvider, handshake: bool
) -> None:
    kind = "init" if handshake else "bare"
    person = cairn.sign_up(f"legacy-{kind}-home", email=f"old-{kind}@example.com")
    token = token_for(cairn, person, ("runs:write",))
    key = "pay-bob-old" if handshake else None  # the bare client also sends no key
    if handshake:
        initialize(cairn, token)
    asked = pay(cairn, token, key=key)
    assert asked["isError"] is True, asked
    assert "resultType" not in asked
    found = asked["structuredContent"]
    run_id = found["run_id"]
    assert found["status"] == "escalated"
    assert found["error"] == "approval_required"
    assert found["approval_url"] == f"{EXAMPLE_ORIGIN}/#/runs/{run_id}"
    assert found["request_state"] == f"cairn-run:{run_id}"
    assert found["approval_url"] in asked["content"][0]["text"]

    # Retrying the same call (its key, or within the dedupe window) reads the same run.
    again = pay(cairn, token, key=key)
    assert again["structuredContent"]["run_id"] == run_id
    assert again["structuredContent"]["error"] == "approval_required"
    assert provider.performed("payments.send") == 0

    person.sdk.approve(run_id, person.authenticator)
    done = [pay(cairn, token, key=key) for _ in range(2)]
    for answer in done:
        assert answer["isError"] is False, answer
        assert answer["structuredContent"]["run_id"] == run_id
        assert answer["structuredContent"]["status"] == "completed"
    assert provider.performed("payments.send") == 1


MALFORMED: list[Any] = [
    {"jsonrpc": "2.0", "id": 1},
    {"jsonrpc": "2.0", "id": 1, "method": 5},
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": []},
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"},
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}},
    {"jsonrpc": "2.0", "id": 10**400, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": [1], "method": "tools/list"},
    {"jsonrpc": "1.0", "id": 1, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "payments.send"}},
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"arguments": {}}},
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "get_run", "arguments": {"run_id": "x" * 5000}},
    },
    [],
    [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}],
    "tools/list",
    None,
    b'{"jsonrpc": "2.0", "id": 1, "method": ',
    b"\xff\xfe",
]


def test_malformed_json_rpc_is_never_a_5xx_nor_an_internal_error(cairn: Cairn) -> None:
    person = cairn.sign_up("malformed-home", email="malformed@example.com")
    token = token_for(cairn, person, ("runs:read", "runs:write"))
    for body, version in ((body, version) for body in MALFORMED for version in (OLD, None)):
        answer = rpc(cairn, token, body, version=version)
        assert answer.status_code < 500, (body, answer.status_code, answer.text)
        assert '"code":-32603' not in answer.text.replace(" ", ""), answer.text
