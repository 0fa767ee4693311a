"""Tenant B, with a valid and fresh token, gets 404 for every id of tenant A on every route.

The routes are walked from the OpenAPI document, so a new route with an id in its path is
covered automatically (and fails here until the test knows which id to give it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from commands.ports.passkeys import b64url
from tests.e2e.context.helpers import entity_named, note
from tests.e2e.mcp.upstream_server import Upstream, upstream_server
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e

BODIES: dict[str, dict[str, Any]] = {
    "grantCapability": {"capability": "email.send"},
    "approveEscalation": {"ceremony_id": "x", "credential": {}},
    "denyEscalation": {},
    "approveMcpServerTool": {"hash": "0" * 64},
    "correctMemory": {"text": "Sarah Lee is my sister"},
}
# Path parameters that name a resource of the caller's own rather than an id: `{provider}` in
# /v1/connections/{provider}/... picks the caller's connection at that provider, so another
# tenant's call can only reach its own (tests/integration/integrations/test_connections_flow.py
# shows another person's disconnect leaving a connection alone).
# `{request_id}` of /v1/oauth/requests/... is an MCP client's pending authorization request:
# it belongs to no tenant until a person consents to it (tests/e2e/mcp/test_oauth_flow.py).
CALLER_SCOPED = frozenset({"provider", "request_id"})


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with upstream_server() as server:
        yield server


def test_every_route_with_an_id_hides_other_tenants(cairn: Cairn, upstream: Upstream) -> None:
    ada = cairn.sign_up("tenant-a")
    eve = cairn.sign_up("tenant-b", email="eve@example.com", name="Eve")
    cairn.step_up(eve)  # fresh, and an admin: nothing but the tenant boundary can stop her
    submitted = cairn.client.post(
        "/v1/intents", headers={**ada.headers, "Idempotency-Key": "a-1"}, json={"text": "hi"}
    )
    assert submitted.status_code == 202, submitted.text
    server = cairn.client.post(
        "/v1/mcp/servers", json={"name": "Weather", "url": upstream.url}, headers=ada.headers
    )
    assert server.status_code == 201, server.text
    noted = note(cairn, ada, "Sarah Lee is my dentist, sarah@smile.example")
    sarah = entity_named(cairn, ada, "Sarah Lee", noted["position"])
    other = note(cairn, ada, "Sara Lee is my dentist, sara@smile.example")
    sara = entity_named(cairn, ada, "Sara Lee", other["position"])
    bodies = {**BODIES, "mergeEntity": {"into_entity_id": sara["entity_id"]}}
    ids = {
        "user_id": ada.session["user_id"],
        "device_id": ada.session["device_id"],
        "credential_id": b64url(ada.authenticator.credentials[0].credential_id),
        "capability": "tenant.admin",
        "run_id": submitted.json()["run_id"],
        "seq": str(submitted.json()["position"]),
        "idempotency_key": "a-1",
        "server_id": server.json()["server_id"],
        "name": "weather",
        "memory_id": noted["memory_id"],
        "entity_id": sarah["entity_id"],
    }
    spec = cairn.client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        if not names or set(names) <= CALLER_SCOPED:
            continue
        for method, operation in operations.items():
            missing = [n for n in names if n not in ids]
            assert not missing, f"{method.upper()} {path}: no tenant-A value for {missing}"
            url = path.format(**{n: ids[n] for n in names})
            body = bodies.get(operation["operationId"])
            response = cairn.client.request(method, url, headers=eve.headers, json=body)
            assert response.status_code == 404, (
                f"{method.upper()} {path} answered {response.status_code}: {response.text}"
            )
            assert response.json()["error"]["code"] in ("not_found",), response.text
            checked += 1
    assert checked >= 6
    # Nothing of Ada's changed.
    me = cairn.client.get("/v1/me", headers=ada.headers).json()
    assert "tenant.admin" in me["capabilities"]
    assert all(not d["revoked"] for d in me["devices"])
