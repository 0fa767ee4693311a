"""An upstream MCP server behind OAuth (decision 0035): it answers 401 with its RFC 9728
metadata; Cairn finds its authorization server (the local authlib one), registers itself
there (RFC 7591), and the person connects it through the integrations' connection flow
(PKCE, `resource` = the server). Cairn then lists and calls its tools with the person's
token for that server, from the vault, and never with any token of its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from commands.mcp import upstream_service
from tests.e2e.mcp.test_upstream import caller_of, fresh_claims, ports_of
from tests.e2e.mcp.upstream_server import Upstream, upstream_server
from tests.support.in_process import Cairn
from tests.support.oauth_server import CLIENT_ID, TestOAuthServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def oauth() -> Iterator[TestOAuthServer]:
    with TestOAuthServer("http://localhost/unused") as server:
        yield server


@pytest.fixture
def upstream(oauth: TestOAuthServer) -> Iterator[Upstream]:
    with upstream_server() as server:
        server.issuer = oauth.base_url
        server.valid_tokens = oauth.valid_access_tokens
        yield server


def test_an_oauth_upstream_is_connected_then_listed_and_called_with_the_persons_token(
    cairn: Cairn, oauth: TestOAuthServer, upstream: Upstream
) -> None:
    ada = cairn.sign_up("oauth-upstream")
    registered = cairn.client.post(
        "/v1/mcp/servers", json={"name": "Weather", "url": upstream.url}, headers=ada.headers
    )
    assert registered.status_code == 201, registered.text
    server = registered.json()
    assert (server["auth"], server["tools"]) == ("oauth", [])
    provider = server["connect_provider"]
    assert provider == f"mcp-{server['server_id']}"
    [registered_client] = [c for c in oauth.clients.values() if c.public]
    assert registered_client.client_id != CLIENT_ID

    # Listing before the person connected: refused, nothing sent upstream with a token.
    tools = f"/v1/mcp/servers/{server['server_id']}/tools"
    early = cairn.client.get(tools, headers=ada.headers)
    assert early.status_code == 400 and early.json()["error"]["code"] == "connection_missing"

    started = cairn.client.post(f"/v1/connections/{provider}/connect", json={}, headers=ada.headers)
    assert started.status_code == 200, started.text
    asked = httpx.URL(started.json()["authorization_url"])
    assert asked.params["resource"] == upstream.url  # RFC 8707, as MCP requires
    assert asked.params["client_id"] == registered_client.client_id
    assert asked.params["code_challenge_method"] == "S256"
    back = oauth.approve(str(asked))
    finished = cairn.client.post("/v1/connections/callback", json=back, headers=ada.headers)
    assert finished.status_code == 202, finished.text
    assert oauth.resources == [upstream.url]

    listed = cairn.client.get(tools, headers=ada.headers)
    assert listed.status_code == 200, listed.text
    [tool] = listed.json()["tools"]
    assert (tool["name"], tool["state"]) == ("weather", "pending")
    [token] = oauth.valid_access_tokens()
    assert upstream.authorizations[-1] == f"Bearer {token}"

    caller, ports = caller_of(ada), ports_of(cairn)
    upstream_service.approve_tool(
        caller, fresh_claims(cairn, ada), server["server_id"], "weather", tool["hash"], ports
    )
    out = upstream_service.call_tool(
        caller, server["server_id"], "weather", {"city": "Oslo"}, ports
    )
    assert "Sunny, 21 degrees." in out and upstream.calls == [{"city": "Oslo"}]
    # No token of Cairn's own ever went upstream: only the person's token for this server.
    cairn_tokens = {ada.session["access_token"], ada.session["refresh_token"]}
    sent = {a.removeprefix("Bearer ") for a in upstream.authorizations if a}
    assert sent == {token} and not sent & cairn_tokens
