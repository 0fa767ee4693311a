"""Erasing a person disconnects every connection of theirs: the grant revoked at the provider
(RFC 7009, the test OAuth server's revocation endpoint), the tokens crypto-shredded and
`AccountDisconnected` recorded; a provider that is down does not hold the erasure up."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from commands.ports.vault import ERASED
from commands.settings import CairnSettings
from domain.integrations.connection import Connection
from tests.support.in_process import Cairn, Person
from tests.support.oauth_server import TestOAuthServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def oauth() -> Iterator[TestOAuthServer]:
    with TestOAuthServer("http://localhost/console/connections-callback.html") as server:
        yield server


@pytest.fixture
def cairn_settings(cairn_settings: CairnSettings, oauth: TestOAuthServer) -> CairnSettings:
    oauth.redirect_uris[:] = [f"{cairn_settings.origins[0]}/console/connections-callback.html"]
    return dataclasses.replace(cairn_settings, oauth_providers={"google": oauth.provider_entry()})


def connect(cairn: Cairn, person: Person, oauth: TestOAuthServer) -> tuple[str, Any]:
    """Connect the person's Google account as the console does; their connection id and the
    sealed tokens as stored."""
    started = cairn.client.post("/v1/connections/google/connect", json={}, headers=person.headers)
    assert started.status_code == 200, started.text
    params = oauth.approve(started.json()["authorization_url"])
    done = cairn.client.post("/v1/connections/callback", json=params, headers=person.headers)
    assert done.status_code == 202, done.text
    tenant, user = person.session["tenant_id"], person.session["user_id"]
    connection_id = Connection.create_id(tenant, user, "google")
    connections = cairn.services.connections
    assert connections is not None
    row = connections.tokens.health(tenant, connection_id)
    assert row is not None
    return str(connection_id), row.sealed  # type: ignore[attr-defined]


def erase(cairn: Cairn, person: Person) -> None:
    user = person.session["user_id"]
    erased = cairn.client.post(f"/v1/users/{user}/erase", headers=person.headers)
    assert erased.status_code == 202, erased.text


def disconnected(cairn: Cairn, connection_id: str) -> list[Any]:
    connections = cairn.services.connections
    assert connections is not None
    events = list(connections.app.events.get(UUID(connection_id)))
    return [e for e in events if type(e).__name__ == "AccountDisconnected"]


def test_erasure_revokes_at_the_provider_and_the_tokens_no_longer_decrypt(
    cairn: Cairn, oauth: TestOAuthServer
) -> None:
    ada = cairn.sign_up("erase-connections")
    connection_id, sealed = connect(cairn, ada, oauth)
    tenant = ada.session["tenant_id"]
    assert oauth.valid_access_tokens() and oauth.live_refresh_tokens()
    vault = cairn.services.identity.vault
    assert vault.open_personal(tenant, sealed, "oauth_tokens") is not ERASED

    erase(cairn, ada)

    assert oauth.revocations == ["refresh_token"]
    assert oauth.valid_access_tokens() == set() and oauth.live_refresh_tokens() == set()
    assert vault.open_personal(tenant, sealed, "oauth_tokens") is ERASED
    [event] = disconnected(cairn, connection_id)
    assert event.revoked_at_provider is True


def test_a_provider_that_is_down_does_not_block_the_erasure(
    cairn: Cairn, oauth: TestOAuthServer
) -> None:
    ada = cairn.sign_up("erase-provider-down")
    connection_id, sealed = connect(cairn, ada, oauth)
    tenant = ada.session["tenant_id"]
    oauth.server.shutdown()  # the provider is gone: its port refuses connections
    oauth.server.server_close()

    erase(cairn, ada)

    assert oauth.revocations == []
    # Shredded anyway: Cairn can no longer use the grant, even though the provider still
    # holds it until it expires or the person revokes it there.
    assert cairn.services.identity.vault.open_personal(tenant, sealed, "oauth_tokens") is ERASED
    [event] = disconnected(cairn, connection_id)
    assert event.revoked_at_provider is False
    assert cairn.client.get("/v1/me", headers=ada.headers).status_code == 401
