"""Must show: /mcp is an OAuth resource server that takes only Cairn's tokens for exactly its
own URL. No token, a token for another resource (the API's own among them) and an expired
token get 401 with a challenge naming the protected-resource metadata; a token without the
tool's scope gets 403 insufficient_scope; the metadata documents name each other."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.tokens.access import AccessTokens
from commands.mcp.composition import McpServices
from tests.support.authenticator import EXAMPLE_ORIGIN
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e
HOST = EXAMPLE_ORIGIN.removeprefix("https://")
METADATA = f"{EXAMPLE_ORIGIN}/.well-known/oauth-protected-resource/mcp"


def call(tool: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}}


def post(cairn: Cairn, token: str | None, body: dict[str, Any]) -> Any:
    headers = {"Host": HOST, "Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return cairn.client.post("/mcp", json=body, headers=headers)


def mcp_of(cairn: Cairn) -> McpServices:
    found: McpServices = cairn.client.app.state.mcp  # type: ignore[attr-defined]
    return found


def token_for(cairn: Cairn, person: Person, scopes: tuple[str, ...]) -> str:
    s = person.session
    pair = mcp_of(cairn).tokens.sessions.create_session(
        s["tenant_id"], s["user_id"], s["device_id"], scopes=scopes
    )
    return pair.access_token


def minted(cairn: Cairn, person: Person, *, audience: str, clock: float | None = None) -> str:
    """A token signed with Cairn's own key, for `audience`, at `clock` (seconds)."""
    own = mcp_of(cairn).tokens.tokens
    assert isinstance(own, AccessTokens)
    tokens = AccessTokens(
        own.keys,
        issuer=own.issuer,
        audience=audience,
        clock=(lambda: clock) if clock is not None else own.clock,
    )
    s = person.session
    return tokens.issue(
        tenant=s["tenant_id"],
        user_id=s["user_id"],
        session_id=s["session_id"],
        device_id=s["device_id"],
        auth_time=0,
        scopes=("runs:read", "runs:write"),
    )


def assert_challenge(answer: Any, status: int, error: str | None) -> None:
    assert answer.status_code == status, answer.text
    header = answer.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    assert f'resource_metadata="{METADATA}"' in header
    assert 'scope="runs:read runs:write"' in header
    if error is not None:
        assert f'error="{error}"' in header


def test_tokens_for_another_resource_expired_or_missing_get_401_with_a_challenge(
    cairn: Cairn,
) -> None:
    person = cairn.sign_up("resource-home")
    assert_challenge(post(cairn, None, call("list_runs")), 401, None)
    # The API's own token: Cairn signed it, but for the API, not for the MCP server.
    assert_challenge(
        post(cairn, person.session["access_token"], call("list_runs")), 401, "invalid_token"
    )
    other = minted(cairn, person, audience="https://other.example/mcp")
    assert_challenge(post(cairn, other, call("list_runs")), 401, "invalid_token")
    expired = minted(cairn, person, audience=f"{EXAMPLE_ORIGIN}/mcp", clock=1_000_000.0)
    assert_challenge(post(cairn, expired, call("list_runs")), 401, "invalid_token")
    # The same minting for this resource and now is accepted: the refusals above were the
    # audience's and the clock's.
    fine = minted(cairn, person, audience=f"{EXAMPLE_ORIGIN}/mcp")
    assert post(cairn, fine, call("list_runs")).status_code == 200


def test_a_token_without_the_tools_scope_gets_403_insufficient_scope(cairn: Cairn) -> None:
    person = cairn.sign_up("scope-home")
    reader = token_for(cairn, person, ("runs:read",))
    answer = post(cairn, reader, call("payments.send"))
    assert_challenge(answer, 403, "insufficient_scope")
    assert answer.json() == {"error": "insufficient_scope", "scope": "runs:write"}
    assert post(cairn, reader, call("list_runs")).status_code == 200


def test_the_metadata_documents_point_at_each_other(cairn: Cairn) -> None:
    resource = cairn.client.get("/.well-known/oauth-protected-resource/mcp").json()
    assert resource["resource"] == f"{EXAMPLE_ORIGIN}/mcp"
    assert resource["authorization_servers"] == [EXAMPLE_ORIGIN]
    server = cairn.client.get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == EXAMPLE_ORIGIN
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["client_id_metadata_document_supported"] is True
    assert "autonomy:write" not in server["scopes_supported"]
