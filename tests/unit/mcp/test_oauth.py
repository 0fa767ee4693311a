"""The authorization server's pure checks: scopes, PKCE, redirect URIs, client metadata."""

from __future__ import annotations

import base64
import hashlib

import pytest

from commands.identity.oauth import consent_binding, granted_scopes
from commands.identity.oauth_clients import (
    OAuthError,
    _client_from,
    is_metadata_document_url,
    valid_redirect_uri,
)
from commands.identity.oauth_tokens import _pkce_matches, _tenant_of_code

pytestmark = pytest.mark.unit


def test_mcp_clients_get_mcp_scopes_only() -> None:
    assert granted_scopes("") == ("runs:read",)
    assert granted_scopes("runs:write runs:read") == ("runs:read", "runs:write")
    assert granted_scopes("autonomy:write api runs:read") == ("runs:read",)
    assert granted_scopes("autonomy:write api") == ()


def test_pkce_s256() -> None:
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    text = challenge.rstrip(b"=").decode()
    assert _pkce_matches(verifier, text)
    assert not _pkce_matches("w" * 43, text)
    assert not _pkce_matches("v" * 42, text)  # too short for RFC 7636


@pytest.mark.parametrize(
    ("uri", "valid"),
    [
        ("https://agent.example/cb", True),
        ("http://127.0.0.1:8765/cb", True),
        ("http://localhost/cb", True),
        ("http://agent.example/cb", False),
        ("https://agent.example/cb#frag", False),
        ("javascript:alert(1)", False),
        (42, False),
    ],
)
def test_redirect_uris(uri: object, valid: bool) -> None:
    assert valid_redirect_uri(uri) is valid


def test_metadata_document_urls_are_https_with_a_path() -> None:
    assert is_metadata_document_url("https://agent.example/client.json")
    assert not is_metadata_document_url("https://agent.example/")
    assert not is_metadata_document_url("http://agent.example/client.json")
    assert not is_metadata_document_url("mcp_abc")


def test_public_clients_with_valid_metadata_only() -> None:
    good = {"redirect_uris": ["https://a.example/cb"], "client_name": "A"}
    assert _client_from("c", good).client_name == "A"
    bads: list[dict[str, object]] = [
        {"redirect_uris": []},
        {"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private"},
        {"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]},
    ]
    for bad in bads:
        with pytest.raises(OAuthError):
            _client_from("c", bad)


def test_codes_name_their_tenant_and_consent_is_bound_to_its_request() -> None:
    with pytest.raises(OAuthError):
        _tenant_of_code("cac1.bm90LWEtdXVpZA.secret")
    one = {"client_id": "c", "scopes": ["runs:read"]}
    assert consent_binding("r1", one) != consent_binding("r2", one)
    assert consent_binding("r1", one) != consent_binding("r1", {**one, "scopes": ["runs:write"]})
