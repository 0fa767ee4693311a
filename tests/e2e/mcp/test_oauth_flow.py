"""Cairn's authorization server through HTTP: registration (RFC 7591) and Client ID Metadata
Documents, code + PKCE with the passkey consent, the token's audience, refresh rotation with
reuse detection, refresh bound to its client, revocation."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from commands.mcp.composition import McpServices
from tests.support.authenticator import EXAMPLE_ORIGIN
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e
REDIRECT = "http://127.0.0.1:8765/callback"
RESOURCE = f"{EXAMPLE_ORIGIN}/mcp"
HOST = EXAMPLE_ORIGIN.removeprefix("https://")


def register(cairn: Cairn, **overrides: Any) -> Any:
    body = {
        "client_name": "Agent",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        **overrides,
    }
    return cairn.client.post("/oauth/register", json=body)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(cairn: Cairn, client_id: str, challenge: str, **params: str) -> Any:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "runs:read runs:write",
        "resource": RESOURCE,
        **params,
    }
    return cairn.client.get("/oauth/authorize", params=query, follow_redirects=False)


def consent(cairn: Cairn, person: Person, location: str) -> dict[str, list[str]]:
    """The person allows in the console with the passkey; the query the client gets back."""
    request_id = location.split("request=")[1]
    base = f"/v1/oauth/requests/{request_id}"
    shown = cairn.client.get(base, headers=person.headers).json()
    assert [s["scope"] for s in shown["scopes"]] == ["runs:read", "runs:write"]
    begun = cairn.client.post(f"{base}/approve/begin", headers=person.headers).json()
    credential = person.authenticator.get(begun["options"])
    answer = cairn.client.post(
        f"{base}/approve",
        json={"ceremony_id": begun["ceremony_id"], "credential": credential},
        headers=person.headers,
    )
    assert answer.status_code == 200, answer.text
    target = answer.json()["redirect_to"]
    assert target.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(target).query)


def redeem(cairn: Cairn, client_id: str, code: str, verifier: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "code_verifier": verifier,
        "resource": RESOURCE,
    }
    return cairn.client.post("/oauth/token", data=form)


def refresh(cairn: Cairn, client_id: str, token: str) -> Any:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id}
    return cairn.client.post("/oauth/token", data=form)


def mcp_status(cairn: Cairn, access_token: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_runs"}}
    headers = {
        "Host": HOST,
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {access_token}",
    }
    status: int = cairn.client.post("/mcp", json=body, headers=headers).status_code
    return status


def signed_in_client(cairn: Cairn, person: Person) -> tuple[str, dict[str, Any]]:
    client_id = register(cairn).json()["client_id"]
    verifier, challenge = pkce()
    started = authorize(cairn, client_id, challenge)
    assert started.status_code == 302
    back = consent(cairn, person, started.headers["location"])
    assert back["state"] == ["s-1"] and back["iss"] == [EXAMPLE_ORIGIN]
    tokens = redeem(cairn, client_id, back["code"][0], verifier)
    assert tokens.status_code == 200, tokens.text
    return client_id, tokens.json()


def test_code_with_pkce_gives_tokens_for_the_mcp_server_only_once(cairn: Cairn) -> None:
    person = cairn.sign_up("oauth-home")
    client_id, tokens = signed_in_client(cairn, person)
    assert tokens["scope"] == "runs:read runs:write" and tokens["token_type"] == "Bearer"
    assert mcp_status(cairn, tokens["access_token"]) == 200
    # The MCP token is not an API token.
    me = cairn.client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401
    # Nor does its refresh token buy one: the API's refresh refuses another resource's grant,
    # and leaves it unspent for its own client.
    api_refresh = cairn.client.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert api_refresh.status_code == 401, api_refresh.text
    assert refresh(cairn, client_id, tokens["refresh_token"]).status_code == 200
    # A second code, redeemed with another verifier, then for real twice.
    verifier, challenge = pkce()
    back = consent(cairn, person, authorize(cairn, client_id, challenge).headers["location"])
    code = back["code"][0]
    wrong = redeem(cairn, client_id, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The failed attempt spent the code: a code is tried once.
    assert redeem(cairn, client_id, code, verifier).json()["error"] == "invalid_grant"


def test_refresh_rotates_a_reused_token_ends_the_grant_and_only_its_client_refreshes(
    cairn: Cairn,
) -> None:
    person = cairn.sign_up("refresh-home")
    client_id, tokens = signed_in_client(cairn, person)
    other_id = register(cairn, client_name="Other").json()["client_id"]
    assert refresh(cairn, other_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    # The person's own first-party refresh token is not a grant of this server.
    first_party = refresh(cairn, client_id, person.session["refresh_token"])
    assert first_party.json()["error"] == "invalid_grant"
    rotated = refresh(cairn, client_id, tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert mcp_status(cairn, fresh["access_token"]) == 200
    # The old refresh token again: someone else holds it too, so the grant ends.
    assert refresh(cairn, client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert mcp_status(cairn, fresh["access_token"]) == 401
    assert refresh(cairn, client_id, fresh["refresh_token"]).json()["error"] == "invalid_grant"


def test_revocation_ends_the_grant(cairn: Cairn) -> None:
    person = cairn.sign_up("revoke-home")
    client_id, tokens = signed_in_client(cairn, person)
    answer = cairn.client.post(
        "/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": client_id}
    )
    assert answer.status_code == 200
    assert mcp_status(cairn, tokens["access_token"]) == 401
    unknown = cairn.client.post("/oauth/revoke", data={"token": "not-a-token"})
    assert unknown.status_code == 200


def test_bad_clients_and_requests_are_refused_before_any_redirect(cairn: Cairn) -> None:
    refused = register(cairn, redirect_uris=["http://evil.example/cb"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_redirect_uri"
    secret = register(cairn, token_endpoint_auth_method="client_secret_basic")
    assert secret.json()["error"] == "invalid_client_metadata"
    client_id = register(cairn).json()["client_id"]
    _, challenge = pkce()
    assert authorize(cairn, "mcp_unknown", challenge).status_code == 400
    assert (
        authorize(cairn, client_id, challenge, redirect_uri="http://127.0.0.1:1/x").status_code
        == 400
    )
    # Past the client checks, errors go back to the client.
    no_pkce = authorize(cairn, client_id, challenge, code_challenge_method="plain")
    assert no_pkce.status_code == 302 and "error=invalid_request" in no_pkce.headers["location"]
    other = authorize(cairn, client_id, challenge, resource="https://other.example/mcp")
    assert "error=invalid_target" in other.headers["location"]
    wide = authorize(cairn, client_id, challenge, scope="autonomy:write api")
    assert "error=invalid_scope" in wide.headers["location"]


def test_a_value_no_store_can_keep_is_refused_to_the_browser(cairn: Cairn) -> None:
    client_id = register(cairn).json()["client_id"]
    _, challenge = pkce()
    pending = _pending_requests(cairn)
    for params in ({"client_id": "mcp_\x00x"}, {"state": "s\x00"}, {"scope": "runs:read\x00"}):
        answer = authorize(cairn, params.pop("client_id", client_id), challenge, **params)
        assert answer.status_code == 400, (params, answer.text)
        assert "location" not in answer.headers
        error = answer.json()["error"]
        assert error["details"]["error"] == "invalid_request" and "NUL" in error["message"]
    assert _pending_requests(cairn) == pending  # nothing kept for a consent


def _pending_requests(cairn: Cairn) -> int:
    with cairn.services.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM oauth_requests").fetchone()
    assert row is not None
    return int(row[0])


def test_a_client_id_metadata_document_names_the_client(cairn: Cairn) -> None:
    person = cairn.sign_up("cimd-home")
    url = "https://agent.example/oauth/client.json"
    documents = {
        url: {"client_id": url, "client_name": "Doc agent", "redirect_uris": [REDIRECT]},
        "https://agent.example/liar.json": {"client_id": url, "redirect_uris": [REDIRECT]},
    }
    state = cairn.client.app.state  # type: ignore[attr-defined]
    mcp: McpServices = state.mcp
    oauth = dataclasses.replace(mcp.oauth, fetch_client_document=lambda u: documents[u])
    state.mcp = dataclasses.replace(
        mcp, oauth=oauth, tokens=dataclasses.replace(mcp.tokens, oauth=oauth)
    )
    verifier, challenge = pkce()
    started = authorize(cairn, url, challenge)
    assert started.status_code == 302
    request_id = started.headers["location"].split("request=")[1]
    shown = cairn.client.get(f"/v1/oauth/requests/{request_id}", headers=person.headers).json()
    assert shown["client_name"] == "Doc agent"
    back = consent(cairn, person, started.headers["location"])
    assert redeem(cairn, url, back["code"][0], verifier).status_code == 200
    assert authorize(cairn, "https://agent.example/liar.json", challenge).status_code == 400
