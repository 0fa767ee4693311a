"""Connect flow and token lifecycle details on the real stack against the test OAuth server:
session-bound single-use state, incremental scopes, a refresh without a new refresh token,
a token the provider refused, a provider down while the token is still valid, reconnect
after a dead grant, and the keep-alive timer."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from adapters.integrations.oauth.client import OAuthClients
from adapters.integrations.oauth.providers import provider_configs
from commands.bootstrap import Services
from commands.integrations.connect import (
    KEEP_ALIVE,
    ConnectAccount,
    DisconnectAccount,
    FinishConnect,
)
from commands.integrations.keepalive import keep_alive
from commands.integrations.queries import list_connections
from commands.ports.connections import ReauthNeeded
from commands.ports.timers import Timer
from commands.settings import CairnSettings
from domain.errors import NotFound, Unavailable
from domain.integrations.grants import AuthorizationStateInvalid
from tests.integration.integrations.connections_support import (
    REDIRECT,
    caller,
    connect,
    events_of,
    expire,
    send,
    stored_tokens,
)
from tests.support.oauth_server import TestOAuthServer
from tests.support.workers import worker_thread

pytestmark = pytest.mark.integration


def _sql(settings: CairnSettings, statement: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, args)
        return cursor.fetchall() if cursor.description else []


def test_a_state_is_bound_to_its_session_and_used_once(
    services: Services, server: TestOAuthServer
) -> None:
    who = caller()
    started = send(services, ConnectAccount(provider="google"), who)
    params = server.approve(started.credentials["authorization_url"])
    finish = FinishConnect(
        state=params["state"], code=SecretStr(params["code"]), iss=params.get("iss")
    )
    elsewhere = replace(who, session_id="another-session")
    with pytest.raises(AuthorizationStateInvalid):
        send(services, finish, elsewhere)
    with pytest.raises(AuthorizationStateInvalid):  # used up by the refused attempt
        send(services, finish, who)
    assert server.code_calls == 0


def test_the_authorization_request_uses_pkce_s256_and_the_exact_redirect_uri(
    services: Services,
) -> None:
    started = send(services, ConnectAccount(provider="google"), caller())
    asked = httpx.URL(started.credentials["authorization_url"]).params
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43
    assert asked["redirect_uri"] == REDIRECT
    assert len(asked["state"]) >= 43


def test_more_scopes_for_the_same_account_is_a_scope_change(
    services: Services, server: TestOAuthServer
) -> None:
    who = caller()
    connection_id = connect(services, server, who)
    started = send(services, ConnectAccount(provider="google", scopes=["drive"]), who)
    asked = httpx.URL(started.credentials["authorization_url"]).params
    assert set(asked["scope"].split()) == {"openid", "email", "calendar", "drive"}
    params = server.approve(started.credentials["authorization_url"])
    send(
        services,
        FinishConnect(state=params["state"], code=SecretStr(params["code"]), iss=params["iss"]),
        who,
    )
    assert events_of(services, connection_id)[-1] == "ScopesChanged"
    assert services.connections is not None
    listed = list_connections(who, services.connections)
    assert "drive" in listed[0].scopes and listed[0].account_email == "ada@example.org"


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    before = stored_tokens(services, tenant, connection_id)
    server.rotate = False
    expire(settings.database_url, connection_id)

    token = services.connections.tokens.access_token(tenant, who.user_id, "google")

    after = stored_tokens(services, tenant, connection_id)
    assert after["refresh_token"] == before["refresh_token"]
    assert after["access_token"] == token.value != before["access_token"]
    assert before["refresh_token"] in server.live_refresh_tokens()


def test_a_token_the_provider_refused_is_refreshed_on_the_next_call(
    services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    tokens = services.connections.tokens
    who = caller()
    tenant = str(who.tenant_id)
    connect(services, server, who)
    first = tokens.access_token(tenant, who.user_id, "google")
    assert tokens.access_token(tenant, who.user_id, "google").value == first.value
    assert server.refresh_calls == 0

    tokens.rejected(tenant, first)
    second = tokens.access_token(tenant, who.user_id, "google")

    assert server.refresh_calls == 1
    assert second.value != first.value and second.value in server.valid_access_tokens()


def test_a_provider_down_hands_out_the_token_that_is_still_valid(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    tokens = services.connections.tokens
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    current = tokens.access_token(tenant, who.user_id, "google")
    # Within the refresh margin, not yet expired.
    _sql(
        settings,
        "UPDATE connection_tokens SET expires_at = now() + interval '2 minutes'",
    )
    server.fail_next(1, 503)

    token = tokens.access_token(tenant, who.user_id, "google")

    assert token.value == current.value
    health = tokens.health(tenant, connection_id)
    assert health is not None and health.failures == 1 and health.status == "active"
    assert "ReauthRequired" not in events_of(services, connection_id)


def test_after_a_dead_grant_a_reconnect_makes_the_connection_work_again(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    tokens = services.connections.tokens
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    expire(settings.database_url, connection_id)
    server.kill_grants()
    with pytest.raises(ReauthNeeded):
        tokens.access_token(tenant, who.user_id, "google")
    assert list_connections(who, services.connections)[0].health == "reauth_required"

    server.revive_grants()
    started = send(services, ConnectAccount(provider="google", reconnect=True), who)
    params = server.approve(started.credentials["authorization_url"])
    send(
        services,
        FinishConnect(state=params["state"], code=SecretStr(params["code"]), iss=params["iss"]),
        who,
    )

    assert tokens.access_token(tenant, who.user_id, "google").value in server.valid_access_tokens()
    assert list_connections(who, services.connections)[0].health == "ok"
    assert events_of(services, connection_id)[-1] == "AccountConnected"


def test_the_keep_alive_timer_refreshes_an_idle_connection_and_sets_itself_again(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    who = caller()
    connection_id = connect(services, server, who)
    [(due,)] = _sql(settings, "SELECT due_at FROM timers WHERE kind = %s", KEEP_ALIVE)
    assert isinstance(due, datetime) and due > datetime.now(UTC) + timedelta(hours=23)
    timer = Timer(KEEP_ALIVE, connection_id, who.tenant_id, datetime.now(UTC))

    keep_alive(timer, services.connections)  # used just now: nothing to do
    assert server.refresh_calls == 0
    _sql(settings, "UPDATE connection_tokens SET refreshed_at = now() - interval '4 days'")
    keep_alive(timer, services.connections)

    assert server.refresh_calls == 1
    assert events_of(services, connection_id).count("TokenRefreshed") == 1
    [(again,)] = _sql(settings, "SELECT due_at FROM timers WHERE kind = %s", KEEP_ALIVE)
    assert isinstance(again, datetime) and again > datetime.now(UTC) + timedelta(hours=23)


def test_a_worker_fires_the_keep_alive_timer_when_it_is_due(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    who = caller()
    connection_id = connect(services, server, who)
    _sql(settings, "UPDATE connection_tokens SET refreshed_at = now() - interval '4 days'")
    _sql(settings, "UPDATE timers SET due_at = now() WHERE kind = %s", KEEP_ALIVE)

    with worker_thread(settings, services):
        deadline = time.monotonic() + 30
        while server.refresh_calls == 0 and time.monotonic() < deadline:
            time.sleep(0.05)

    assert server.refresh_calls == 1
    assert events_of(services, connection_id).count("TokenRefreshed") == 1


def test_connecting_another_account_revokes_the_first_ones_grant(
    services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    first = services.connections.tokens.access_token(tenant, who.user_id, "google")
    server.account, server.email = "acct-2", "grace@example.org"

    connect(services, server, who)

    assert server.revocations == ["refresh_token"]
    assert first.value not in server.valid_access_tokens()
    second = services.connections.tokens.access_token(tenant, who.user_id, "google")
    assert second.value in server.valid_access_tokens()
    assert events_of(services, connection_id).count("AccountConnected") == 2
    assert list_connections(who, services.connections)[0].account_email == "grace@example.org"


def test_a_token_endpoint_that_does_not_answer_is_transient() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        entry = {"client_id": "c", "token_endpoint": f"http://127.0.0.1:{port}/token"}
        clients = OAuthClients(provider_configs({"google": entry}, {}), REDIRECT, timeout_s=0.3)
        with pytest.raises(Unavailable) as raised:
            clients.refresh("google", "refresh-token", ())
    assert raised.value.details["retry_after"] >= 1


def test_another_persons_disconnect_leaves_this_connection_alone(
    services: Services, server: TestOAuthServer
) -> None:
    ada = caller()
    connect(services, server, ada)
    for other in (caller(), caller(ada.tenant_id)):  # another tenant, another person
        with pytest.raises(NotFound):
            send(services, DisconnectAccount(provider="google"), other)
    assert services.connections is not None
    listed = list_connections(ada, services.connections)
    assert [(c.provider, c.status, c.health) for c in listed if c.status != "not_connected"] == [
        ("google", "active", "ok")
    ]
