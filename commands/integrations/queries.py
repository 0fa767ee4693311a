"""The caller's connections with their health, one per configured provider."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError

from commands.base import Caller
from commands.integrations.connect import ACCOUNT_FIELD
from commands.integrations.ports import ConnectionsPorts
from commands.ports.vault import Erased
from domain.integrations.connection import Connection, ConnectionStatus


@dataclass(frozen=True)
class ConnectionHealth:
    provider: str
    connection_id: str | None
    status: str  # not_connected, pending, active, reauth_required, disconnected
    health: str  # ok, refresh_failing, reauth_required, none
    scopes: list[str]
    account_email: str | None
    token_expires_at: datetime | None
    refreshed_at: datetime | None
    refresh_failures: int


def _email(ports: ConnectionsPorts, tenant: str, sealed: str | None) -> str | None:
    if not sealed:
        return None
    opened = ports.vault.open_personal(tenant, sealed, ACCOUNT_FIELD)
    if isinstance(opened, Erased):
        return None
    email = json.loads(opened).get("email")
    return email if isinstance(email, str) else None


def list_connections(caller: Caller, ports: ConnectionsPorts) -> list[ConnectionHealth]:
    tenant = str(caller.tenant_id)
    found: list[ConnectionHealth] = []
    for provider in ports.oauth.names():
        connection_id = Connection.create_id(tenant, caller.user_id, provider)
        try:
            connection: object = ports.app.repository.get(connection_id)
        except AggregateNotFoundError:
            found.append(
                ConnectionHealth(provider, None, "not_connected", "none", [], None, None, None, 0)
            )
            continue
        assert isinstance(connection, Connection)
        row = ports.tokens.health(tenant, connection_id)
        status = connection.status
        if status is ConnectionStatus.REAUTH_REQUIRED or (row and row.status != "active"):
            health = "reauth_required"
        elif status is ConnectionStatus.ACTIVE and row is not None:
            health = "refresh_failing" if row.failures else "ok"
        else:
            health = "none"
        found.append(
            ConnectionHealth(
                provider=provider,
                connection_id=str(connection_id),
                status=str(status) if health != "reauth_required" else "reauth_required",
                health=health,
                scopes=list(connection.scopes),
                account_email=_email(ports, tenant, connection.account_sealed),
                token_expires_at=row.expires_at if row else None,
                refreshed_at=row.refreshed_at if row else None,
                refresh_failures=row.failures if row else 0,
            )
        )
    return found
