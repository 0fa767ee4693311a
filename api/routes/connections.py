"""Connected accounts: list with health, connect (and reconnect, or add scopes), the OAuth
callback the console hands over, disconnect. Tokens never leave the server."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentCaller, ServicesDep
from api.dispatch import Send, build
from api.models import Accepted
from commands.base import CommandResult
from commands.integrations.connect import (
    PROVIDER,
    ConnectAccount,
    DisconnectAccount,
    FinishConnect,
    Scope,
)
from commands.integrations.queries import list_connections
from domain.errors import Unavailable

router = APIRouter(prefix="/v1/connections", tags=["connections"])
ProviderName = Path(pattern=PROVIDER, description="The provider's configured name, e.g. google")


class ConnectionOut(BaseModel):
    provider: str
    connection_id: str | None
    status: str = Field(
        description="not_connected, pending, active, reauth_required or disconnected"
    )
    health: str = Field(description="ok, refresh_failing, reauth_required or none")
    scopes: list[str]
    account_email: str | None
    token_expires_at: datetime | None
    refreshed_at: datetime | None
    refresh_failures: int


class ConnectionsOut(BaseModel):
    connections: list[ConnectionOut]


class ConnectBody(BaseModel):
    scopes: list[Scope] = Field(default_factory=list, max_length=20)


class AuthorizationStarted(BaseModel):
    """Send the person's browser to `authorization_url`; the provider sends it back to the
    console's redirect URI with `code`, `state` and `iss` for `finishConnect`."""

    connection_id: str
    provider: str
    authorization_url: str
    position: int | None

    @classmethod
    def of(cls, result: CommandResult) -> AuthorizationStarted:
        return cls(
            connection_id=result.ids["connection_id"],
            provider=result.ids["provider"],
            authorization_url=result.credentials["authorization_url"],
            position=result.position,
        )


class Connected(Accepted):
    connection_id: str
    provider: str
    status: str


class Disconnected(Accepted):
    connection_id: str
    provider: str
    revoked_at_provider: str


@router.get("", operation_id="listConnections", response_model=ConnectionsOut)
def get_connections(caller: CurrentCaller, services: ServicesDep) -> ConnectionsOut:
    """The caller's connection at each configured provider, with its health: `ok`,
    `refresh_failing` (the provider did not answer a refresh; retried with backoff) or
    `reauth_required` (the grant is dead: connect again)."""
    if services.connections is None:
        raise Unavailable("connected accounts are not configured in this process")
    found = list_connections(caller, services.connections)
    return ConnectionsOut(connections=[ConnectionOut(**vars(c)) for c in found])


@router.post(
    "/{provider}/connect", operation_id="startConnect", response_model=AuthorizationStarted
)
def start_connect(send: Send, body: ConnectBody, provider: str = ProviderName) -> JSONResponse:
    """Start connecting an account at `provider` (also more `scopes` for one connected:
    incremental authorization). 404 `provider_not_configured` for an unknown provider."""
    command = build(ConnectAccount, provider=provider, scopes=body.scopes)
    return send.with_credentials(command, AuthorizationStarted.of)


@router.post("/{provider}/reconnect", operation_id="reconnect", response_model=AuthorizationStarted)
def reconnect(send: Send, body: ConnectBody, provider: str = ProviderName) -> JSONResponse:
    """Connect the same provider again (after `reauth_required`); 404 when there is no
    connection to reconnect."""
    command = build(ConnectAccount, provider=provider, scopes=body.scopes, reconnect=True)
    return send.with_credentials(command, AuthorizationStarted.of)


@router.post("/callback", operation_id="finishConnect", status_code=202, response_model=Connected)
def finish_connect(body: FinishConnect, send: Send) -> JSONResponse:
    """What the provider sent the browser back with. 400 `oauth_state_invalid` (unknown,
    used, expired or another session's `state`), `oauth_issuer_mismatch` (RFC 9207) or
    `oauth_authorization_failed` (declined, or the code was refused); 503 when the provider's
    token endpoint does not answer."""
    return send.accepted(body)


@router.post(
    "/{provider}/disconnect",
    operation_id="disconnect",
    status_code=202,
    response_model=Disconnected,
)
def disconnect(send: Send, provider: str = ProviderName) -> JSONResponse:
    """Revoke the grant at the provider (RFC 7009, where it has an endpoint) and
    crypto-shred the tokens. 409 when already disconnected."""
    return send.accepted(build(DisconnectAccount, provider=provider))
