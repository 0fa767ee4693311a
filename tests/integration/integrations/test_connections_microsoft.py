"""Connect, refresh and disconnect a Microsoft account through the production OAuth path
(adapters/integrations/oauth) against the Microsoft-shaped test server: endpoints under
`/{tenant}/oauth2/v2.0/`, no `iss` in the authorization response, a refresh token only with
`offline_access`, the account from `tid`/`oid`, AADSTS errors, and no revocation endpoint, so
that a disconnect shreds the tokens while the grant stays valid at Microsoft."""

from __future__ import annotations

import logging
from uuid import UUID

import httpx
import pytest
from pydantic import SecretStr

from adapters.integrations.oauth.client import OAuthClients, new_code_verifier
from adapters.integrations.oauth.providers import provider_configs
from commands.bootstrap import Services
from commands.integrations.connect import ConnectAccount, DisconnectAccount, FinishConnect
from commands.integrations.queries import list_connections
from commands.ports.connections import ConnectionMissing, ReauthNeeded
from commands.ports.vault import ERASED
from commands.settings import CairnSettings
from domain.integrations.connection import Connection
from tests.integration.integrations.connections_support import (
    REDIRECT,
    caller,
    events_of,
    expire,
    send,
    stored_tokens,
)
from tests.support.oauth_server import CLIENT_SECRET, TENANT_ID, TestOAuthServer

pytestmark = pytest.mark.integration

PROVIDER = "microsoft"


@pytest.fixture
def oauth_shape() -> str:
    return PROVIDER


def connect(services: Services, server: TestOAuthServer, who: object) -> tuple[UUID, httpx.URL]:
    started = send(services, ConnectAccount(provider=PROVIDER), who)  # type: ignore[arg-type]
    asked = httpx.URL(started.credentials["authorization_url"])
    params = server.approve(str(asked))
    assert "iss" not in params  # Microsoft does not send RFC 9207's `iss`
    finish = FinishConnect(state=params["state"], code=SecretStr(params["code"]), iss=None)
    send(services, finish, who)  # type: ignore[arg-type]
    tenant, person = str(who.tenant_id), who.user_id  # type: ignore[attr-defined]
    return Connection.create_id(tenant, person, PROVIDER), asked


def test_connect_refresh_and_disconnect_a_microsoft_account(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    tokens = services.connections.tokens
    who = caller()
    tenant = str(who.tenant_id)

    connection_id, asked = connect(services, server, who)

    assert asked.path == f"/{TENANT_ID}/oauth2/v2.0/authorize"
    assert asked.params["code_challenge_method"] == "S256"
    assert "offline_access" in asked.params["scope"].split()
    assert server.code_calls == 1
    [listed] = [c for c in list_connections(who, services.connections) if c.provider == PROVIDER]
    assert (listed.status, listed.health) == ("active", "ok")
    assert listed.account_email == "ada@example.org"  # Microsoft's preferred_username
    first = stored_tokens(services, tenant, connection_id)
    assert first["refresh_token"] in server.live_refresh_tokens()

    expire(settings.database_url, connection_id)
    token = tokens.access_token(tenant, who.user_id, PROVIDER)

    assert server.refresh_calls == 1
    assert token.value in server.valid_access_tokens() and token.value != first["access_token"]
    rotated = stored_tokens(services, tenant, connection_id)
    assert rotated["refresh_token"] != first["refresh_token"]
    assert events_of(services, connection_id).count("TokenRefreshed") == 1
    row = tokens.health(tenant, connection_id)
    assert row is not None
    sealed = row.sealed  # type: ignore[attr-defined]

    done = send(services, DisconnectAccount(provider=PROVIDER), who)

    # No revocation endpoint: Cairn forgets the tokens, Microsoft still honours the grant
    # until it expires or the person revokes the app in their account.
    assert done.ids["revoked_at_provider"] == "false"
    assert server.revocations == []
    assert rotated["refresh_token"] in server.live_refresh_tokens()
    assert services.connections.vault.open_personal(tenant, sealed, "oauth_tokens") is ERASED
    with pytest.raises(ConnectionMissing):
        tokens.access_token(tenant, who.user_id, PROVIDER)
    assert events_of(services, connection_id)[-1] == "AccountDisconnected"


def test_a_dead_microsoft_grant_logs_its_aadsts_code_and_asks_the_person_once(
    settings: CairnSettings,
    services: Services,
    server: TestOAuthServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert services.connections is not None
    who = caller()
    connection_id, _ = connect(services, server, who)
    expire(settings.database_url, connection_id)
    server.kill_grants()
    caplog.set_level(logging.INFO)

    with pytest.raises(ReauthNeeded):
        services.connections.tokens.access_token(str(who.tenant_id), who.user_id, PROVIDER)

    assert events_of(services, connection_id).count("ReauthRequired") == 1
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("cairn.")]
    assert any("invalid_grant (AADSTS700082)" in line for line in lines)
    assert not [line for line in lines if "inactivity" in line or "Trace ID" in line]


def test_without_offline_access_microsoft_issues_no_refresh_token(
    server: TestOAuthServer,
) -> None:
    """What the production client would get if it did not add `offline_access` (it always
    does: tests/unit/integrations/test_connections_oauth.py)."""
    entry = {**server.provider_entry(PROVIDER), "scopes": ["openid", "Mail.Read"]}
    clients = OAuthClients(provider_configs({PROVIDER: entry}, {}), REDIRECT)
    verifier = new_code_verifier()
    with_offline = clients.authorization_url(PROVIDER, ("openid",), "s1", verifier)
    without = with_offline.replace("offline_access", "").replace("scope=openid+", "scope=openid")
    assert "offline_access" not in without

    code = server.approve(without)["code"]
    grant = clients.exchange(PROVIDER, code, verifier)

    assert grant.refresh_token is None and grant.access_token in server.valid_access_tokens()
    assert CLIENT_SECRET not in repr(grant)
