"""Connect, reconnect and disconnect an account: OAuth 2.0 authorization code with PKCE
(S256), a single-use `state` bound to the person's session, `iss` checked (RFC 9207).

A connect is two commands: `ConnectAccount` records `ConnectionStarted` and answers the
provider's authorization URL; the person consents there and the provider sends the browser
back to the console's redirect URI, which hands `code`, `state` and `iss` to
`FinishConnect`. Tokens go to the vault only; the account's id and email are sealed under
the person's key.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, SecretStr

from commands.base import Caller, Command, CommandResult, Issued
from commands.integrations.lifecycle import close_feed, disconnect, find, open_feed_soon
from commands.integrations.ports import ConnectionsPorts
from commands.ports.timers import Timer
from domain.errors import InvalidTransition, NotFound, Unavailable
from domain.integrations.connection import Connection, ConnectionStatus
from domain.integrations.grants import (
    AuthorizationFailed,
    AuthorizationStateInvalid,
    PendingAuthorization,
)

if TYPE_CHECKING:
    from commands.dispatch import Ports

PROVIDER = r"^[a-z][a-z0-9_-]{0,39}$"
# A scope token of RFC 6749 section 3.3 (printable ASCII but space, '"' and '\\').
Scope = Annotated[str, Field(min_length=1, max_length=300, pattern=r"^[!#-\[\]-~]+$")]
ACCOUNT_FIELD = "connection_account"
KEEP_ALIVE = "connection.keep_alive"
KEEP_ALIVE_EVERY = timedelta(days=1)


class ConnectAccount(Command):
    """Start connecting the caller's account at `provider` (or reconnecting it, or adding
    `scopes` to it: incremental authorization keeps what was granted before)."""

    provider: str = Field(pattern=PROVIDER)
    scopes: list[Scope] = Field(default_factory=list, max_length=20)
    reconnect: bool = False


class FinishConnect(Command):
    """What the provider sent the browser back with, handed over by the console."""

    state: str = Field(min_length=16, max_length=200)
    code: SecretStr | None = Field(default=None, max_length=4000)
    iss: str | None = Field(default=None, max_length=500)
    error: str | None = Field(default=None, max_length=200)


class DisconnectAccount(Command):
    """Revoke the grant at the provider and crypto-shred its tokens."""

    provider: str = Field(pattern=PROVIDER)


def _ports(ports: Ports) -> ConnectionsPorts:
    found = getattr(ports, "connections", None)
    if found is None:
        raise Unavailable("connected accounts are not configured in this process")
    assert isinstance(found, ConnectionsPorts)
    return found


def _session(caller: Caller) -> str:
    if not caller.session_id:
        raise AuthorizationStateInvalid("a connect needs a signed-in session")
    return caller.session_id


def connect_account(command: ConnectAccount, issued: Issued, ports: Ports) -> CommandResult:
    cp = _ports(ports)
    caller = issued.signed_in()
    tenant = str(caller.tenant_id)
    base = cp.oauth.base_scopes(command.provider)  # ProviderNotConfigured (404) first
    connection_id = Connection.create_id(tenant, caller.user_id, command.provider)
    connection = find(cp, connection_id)
    if command.reconnect and (connection is None or connection.status is ConnectionStatus.PENDING):
        raise NotFound("there is no connection to reconnect", {"provider": command.provider})
    granted = connection.scopes if connection is not None else []
    scopes = tuple(sorted({*base, *granted, *command.scopes}))
    state = secrets.token_urlsafe(32)
    verifier = cp.new_verifier()
    cp.states.put(
        state,
        PendingAuthorization(
            tenant, caller.user_id, _session(caller), command.provider, scopes, verifier
        ),
    )
    url = cp.oauth.authorization_url(command.provider, scopes, state, verifier)
    if connection is None:
        connection = Connection(
            tenant_id=caller.tenant_id,
            person_id=caller.user_id,
            provider=command.provider,
            requested_scopes=list(scopes),
        )
    else:
        connection.start_again(list(scopes))
    position = cp.app.save_atomically(connection, context=issued.event_context())
    return CommandResult(
        {"connection_id": str(connection_id), "provider": command.provider},
        position,
        credentials={"authorization_url": url},
    )


def finish_connect(command: FinishConnect, issued: Issued, ports: Ports) -> CommandResult:
    cp = _ports(ports)
    caller = issued.signed_in()
    pending = cp.states.take(command.state)  # used once, whatever happens next
    if pending is None or (pending.tenant_id, pending.person_id, pending.session_id) != (
        str(caller.tenant_id),
        caller.user_id,
        caller.session_id,
    ):
        raise AuthorizationStateInvalid(
            "this connect is unknown, finished already, expired or from another session;"
            " start it again"
        )
    provider = pending.provider
    if command.error is not None or command.code is None:
        raise AuthorizationFailed(
            "the provider did not grant access; nothing was connected",
            {"provider": provider, "provider_error": command.error or "no_code"},
        )
    cp.oauth.check_issuer(provider, command.iss)
    grant = cp.oauth.exchange(provider, command.code.get_secret_value(), pending.code_verifier)
    tenant = pending.tenant_id
    connection_id = Connection.create_id(tenant, caller.user_id, provider)
    connection = find(cp, connection_id)
    if connection is None:
        raise AuthorizationStateInvalid("this connect was never started; start it again")
    subject = grant.account.subject if grant.account else ""
    email = grant.account.email if grant.account else None
    account_key = hashlib.sha256(f"{connection_id}:{subject}".encode()).hexdigest()
    if connection.account_key not in (None, account_key) and connection.status in (
        ConnectionStatus.ACTIVE,
        ConnectionStatus.REAUTH_REQUIRED,
    ):
        # Another account at the same provider replaces this one: its grant is revoked and
        # its tokens shredded, not left live at the provider; its calendar is followed no more.
        close_feed(cp, connection, "another account connected")
        cp.tokens.disconnect(tenant, connection_id, provider)
    cp.tokens.store_grant(tenant, connection_id, caller.user_id, provider, grant)
    sealed = cp.vault.seal_personal(
        tenant, caller.user_id, ACCOUNT_FIELD, json.dumps({"id": subject, "email": email})
    )
    connection.connect(sealed, account_key, sorted(grant.scopes))
    position = cp.app.save_atomically(connection, context=issued.event_context())
    cp.timers.schedule(
        Timer(KEEP_ALIVE, connection_id, caller.tenant_id, cp.clock() + KEEP_ALIVE_EVERY)
    )
    open_feed_soon(cp, connection)  # by a worker: the provider's answer does not hold this up
    return CommandResult(
        {"connection_id": str(connection_id), "provider": provider, "status": "active"}, position
    )


def disconnect_account(command: DisconnectAccount, issued: Issued, ports: Ports) -> CommandResult:
    cp = _ports(ports)
    caller = issued.signed_in()
    tenant = str(caller.tenant_id)
    connection_id = Connection.create_id(tenant, caller.user_id, command.provider)
    connection = find(cp, connection_id)
    if connection is None:
        raise NotFound("there is no such connection", {"provider": command.provider})
    if connection.status is ConnectionStatus.DISCONNECTED:
        raise InvalidTransition(
            "this connection is already disconnected", {"provider": command.provider}
        )
    revoked, position = disconnect(cp, connection, issued.event_context())
    return CommandResult(
        {
            "connection_id": str(connection_id),
            "provider": command.provider,
            "revoked_at_provider": str(revoked).lower(),
        },
        position,
    )
