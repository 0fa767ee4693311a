"""What connection handlers act through (implemented in adapters/integrations/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from commands.application import CairnApplication
from commands.integrations.mail_sync import MailSync
from commands.integrations.sync import FeedSync
from commands.ports.connections import ConnectionTokens
from commands.ports.timers import Timers
from commands.ports.vault import Vault
from domain.integrations.grants import PendingAuthorization, TokenGrant


class ConnectionsApplication(CairnApplication):
    """Connection aggregates, stored in the event store."""


class OAuthFlows(Protocol):
    def names(self) -> list[str]: ...

    def base_scopes(self, provider: str) -> tuple[str, ...]:
        """Raises `ProviderNotConfigured` for a provider that is not configured."""
        ...

    def authorization_url(
        self, provider: str, scopes: tuple[str, ...], state: str, code_verifier: str
    ) -> str: ...

    def check_issuer(self, provider: str, iss: str | None) -> None: ...

    def exchange(self, provider: str, code: str, code_verifier: str) -> TokenGrant: ...


class TokenHealth(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def failures(self) -> int: ...
    @property
    def refreshed_at(self) -> datetime: ...


class ConnectionVault(ConnectionTokens, Protocol):
    """The token port plus what connect, disconnect and keep-alive need."""

    def store_grant(
        self, tenant: str, connection_id: UUID, person: str, provider: str, grant: TokenGrant
    ) -> None: ...

    def disconnect(self, tenant: str, connection_id: UUID, provider: str) -> bool: ...

    def health(self, tenant: str, connection_id: UUID) -> TokenHealth | None: ...

    def keep_alive(self, tenant: str, connection_id: UUID, idle: timedelta) -> bool: ...

    def providers_of(self, tenant: str, person: str) -> list[str]:
        """The providers the person has tokens stored for."""
        ...


class AuthorizationStates(Protocol):
    def put(self, state: str, pending: PendingAuthorization) -> None: ...

    def take(self, state: str) -> PendingAuthorization | None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConnectionsPorts:
    app: ConnectionsApplication
    tokens: ConnectionVault
    oauth: OAuthFlows
    states: AuthorizationStates
    vault: Vault
    timers: Timers
    new_verifier: Callable[[], str]
    clock: Callable[[], datetime] = utcnow
    # The people's calendar feeds and inboxes, opened and closed with their connection.
    feeds: FeedSync | None = None
    mail: MailSync | None = None
