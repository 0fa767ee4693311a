"""Provider configuration, the authorization URL (PKCE S256, exact redirect URI) and the
issuer check of RFC 9207, without a network."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest

from adapters.integrations.oauth.client import OAuthClients, _claims, new_code_verifier
from adapters.integrations.oauth.providers import provider_configs
from domain.integrations.grants import IssuerMismatch, ProviderNotConfigured

pytestmark = pytest.mark.unit
REDIRECT = "https://cairn.example/console/connections-callback.html"


def _clients() -> OAuthClients:
    configs = provider_configs(
        {
            "google": {"client_id": "g-id", "client_secret": "in-config"},
            "work": {"shape": "microsoft", "client_id": "m-id"},
        },
        {"CAIRN_OAUTH_WORK_CLIENT_SECRET": "from-env-secret"},
    )
    return OAuthClients(configs, REDIRECT)


def test_shapes_give_each_provider_its_endpoints_and_the_secret_stays_hidden() -> None:
    clients = _clients()
    google, work = clients.config("google"), clients.config("work")
    assert google.revocation_endpoint.endswith("/revoke") and google.sends_iss
    assert work.revocation_endpoint == "" and not work.sends_iss
    assert "offline_access" in work.base_scopes
    assert work.client_secret.reveal_text() == "from-env-secret"
    assert "from-env-secret" not in repr(work) and "in-config" not in repr(google)
    assert clients.revoke("work", "token", "refresh_token") is False  # no endpoint: no call
    with pytest.raises(ProviderNotConfigured):
        clients.config("dropbox")


@pytest.mark.parametrize("entry", [{"client_id": "x", "shape": "yahoo"}, {"shape": "google"}])
def test_an_unknown_shape_or_a_missing_client_id_is_refused(entry: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        provider_configs({"p": entry}, {})


def test_the_authorization_url_carries_the_s256_challenge_of_the_verifier() -> None:
    verifier = new_code_verifier()
    url = _clients().authorization_url("google", ("openid", "email"), "state-123", verifier)
    params = httpx.URL(url).params
    digest = hashlib.sha256(verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == REDIRECT
    assert params["state"] == "state-123"
    assert params["access_type"] == "offline" and params["include_granted_scopes"] == "true"
    assert verifier not in url and 43 <= len(verifier) <= 128


def test_the_issuer_must_be_the_providers_own_and_present_where_it_always_is() -> None:
    clients = _clients()
    clients.check_issuer("google", "https://accounts.google.com")
    with pytest.raises(IssuerMismatch):
        clients.check_issuer("google", None)  # Google always sends it: missing is a mix-up
    with pytest.raises(IssuerMismatch):
        clients.check_issuer("google", "https://evil.example")
    clients.check_issuer("work", None)  # Microsoft does not send it
    with pytest.raises(IssuerMismatch):
        clients.check_issuer("work", "https://accounts.google.com")


def test_the_account_comes_from_the_id_token_claims() -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "42", "email": "a@b.c"}).encode())
    account = _claims(f"e30.{payload.decode().rstrip('=')}.")
    assert account is not None and (account.subject, account.email) == ("42", "a@b.c")
    assert _claims("not-a-jwt") is None and _claims(None) is None
    assert "42" not in repr(account)


def test_a_microsoft_account_is_its_directory_object_and_preferred_username() -> None:
    claims = {
        "sub": "pairwise-per-app",
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "ada@contoso.example",
    }
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    account = _claims(f"e30.{payload}.")
    assert account is not None
    assert account.subject == f"{claims['tid']}/{claims['oid']}"
    assert account.email == "ada@contoso.example"
    no_address = {**claims, "preferred_username": "+15551234567"}
    payload = base64.urlsafe_b64encode(json.dumps(no_address).encode()).decode().rstrip("=")
    assert _claims(f"e30.{payload}.").email is None  # type: ignore[union-attr]


def test_a_microsoft_provider_always_asks_for_offline_access() -> None:
    configs = provider_configs(
        {"work": {"shape": "microsoft", "client_id": "m", "scopes": ["openid", "Mail.Read"]}}, {}
    )
    assert configs["work"].base_scopes == ("openid", "Mail.Read", "offline_access")
