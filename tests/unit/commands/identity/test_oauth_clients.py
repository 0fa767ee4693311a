"""A client's metadata (a registration, or a client ID metadata document), read without I/O:
whatever a caller sends, the answer is a client whose values every store can keep, or an
OAuth error (400), never another exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.identity.oauth_clients import OAuthError, _client_from, valid_redirect_uri
from domain.storable import unstorable

pytestmark = pytest.mark.unit

REDIRECT = "http://127.0.0.1:8765/callback"
VALID = {"client_name": "Agent", "redirect_uris": [REDIRECT]}
TEXT = st.text(max_size=20) | st.sampled_from(["\x00", "a\x00b", "\ud800", REDIRECT, "Agent"])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["client_name", "redirect_uris", "grant_types", "token_endpoint_auth_method", "scope"]


@given(st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, JSONISH)), st.booleans())
def test_any_metadata_gives_a_storable_client_or_an_oauth_error(
    fields: dict[str, Any], over_valid: bool
) -> None:
    metadata = {**VALID, **fields} if over_valid else fields
    try:
        client = _client_from("mcp_x", metadata)
    except OAuthError:
        return
    assert unstorable(client.client_name) is None
    assert all(unstorable(uri) is None for uri in client.redirect_uris)


@pytest.mark.parametrize("name", ["\x00", "a\x00b", "x\ud800"])
def test_a_client_name_no_store_can_keep_is_refused(name: str) -> None:
    with pytest.raises(OAuthError) as refused:
        _client_from("mcp_x", {**VALID, "client_name": name})
    assert refused.value.error == "invalid_client_metadata"
    assert "client_name" in refused.value.description


def test_grant_types_must_be_the_two_grants_as_text() -> None:
    for grants in ([{"x": 1}], [["authorization_code"]], [1], ["password"]):
        with pytest.raises(OAuthError) as refused:
            _client_from("mcp_x", {**VALID, "grant_types": grants})
        assert refused.value.error == "invalid_client_metadata"
    client = _client_from("mcp_x", {**VALID, "grant_types": ["refresh_token"]})
    assert client.redirect_uris == (REDIRECT,)


def test_a_redirect_uri_no_store_can_keep_is_not_valid() -> None:
    assert valid_redirect_uri(REDIRECT)
    assert not valid_redirect_uri(REDIRECT + "\x00")
    assert not valid_redirect_uri("https://agent.example/cb\ud800")
