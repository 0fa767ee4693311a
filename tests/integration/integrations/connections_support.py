"""Shared by the connection tests: a Cairn's services wired to the test OAuth server, and a
person's account connected the way the console does it, minus the browser."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from pydantic import SecretStr

from commands.base import Caller, CommandResult, Issued
from commands.bootstrap import Services, bootstrap
from commands.integrations.connect import ConnectAccount, FinishConnect
from commands.settings import CairnSettings
from domain.integrations.connection import Connection
from infra.stack.launcher import StackEndpoints
from tests.support.cairn_settings import isolated_settings
from tests.support.oauth_server import TestOAuthServer

REDIRECT = "http://localhost:8000/console/connections-callback.html"


def settings_for(
    stack: StackEndpoints,
    database_url: str,
    name: str,
    data_dir: Path,
    server: TestOAuthServer,
    provider: str = "google",
) -> CairnSettings:
    return isolated_settings(
        stack,
        database_url,
        name,
        data_dir,
        oauth_providers={provider: server.provider_entry(provider)},
        oauth_redirect_uri=REDIRECT,
    )


def caller(tenant: UUID | None = None) -> Caller:
    return Caller(tenant or uuid.uuid4(), str(uuid.uuid4()), session_id=str(uuid.uuid4()))


def send(services: Services, command: Any, who: Caller) -> CommandResult:
    issued = Issued(caller=who, command_id=str(uuid.uuid4()))
    return services.commands.dispatch(command, issued)


def connect(services: Services, server: TestOAuthServer, who: Caller) -> UUID:
    """Start, consent at the provider, finish: what the console and the browser do."""
    started = send(services, ConnectAccount(provider="google"), who)
    params = server.approve(started.credentials["authorization_url"])
    finish = FinishConnect(
        state=params["state"], code=SecretStr(params["code"]), iss=params.get("iss")
    )
    send(services, finish, who)
    return Connection.create_id(str(who.tenant_id), who.user_id, "google")


def expire(database_url: str, connection_id: UUID) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE connection_tokens SET expires_at = now() - interval '1 minute'"
            " WHERE connection_id = %s",
            (connection_id,),
        )


def events_of(services: Services, connection_id: UUID) -> list[str]:
    assert services.connections is not None
    return [type(e).__name__ for e in services.connections.app.events.get(connection_id)]


def stored_tokens(services: Services, tenant: str, connection_id: UUID) -> dict[str, str]:
    """The connection's tokens as the vault holds them, opened."""
    assert services.connections is not None
    row = services.connections.tokens.health(tenant, connection_id)
    assert row is not None
    plain = services.connections.vault.open_personal(tenant, row.sealed, "oauth_tokens")  # type: ignore[attr-defined]
    tokens: dict[str, str] = json.loads(plain)
    return tokens


def services_for(settings: CairnSettings) -> Services:
    return bootstrap(dataclasses.replace(settings))
