"""The Connection aggregate: one person's grant at one provider, from the first connect to
the disconnect.

No event carries token material: the tokens live in the vault under a key of this connection
alone (adapters/integrations/store.py), and the provider account's id and email are sealed
under the person's own personal-data key (crypto-shredding, as for a user's email).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidTransition


class ConnectionStatus(StrEnum):
    PENDING = "pending"  # a connect was started, no account connected yet
    ACTIVE = "active"
    REAUTH_REQUIRED = "reauth_required"  # the grant is dead: only the person can renew it
    DISCONNECTED = "disconnected"


def token_subject(connection_id: UUID) -> str:
    """The vault subject whose key seals this connection's tokens: erasing it shreds them."""
    return f"connection:{connection_id}"


class Connection(Aggregate):
    """A person's connection to one provider (one per person and provider: the account
    connected last is the one Cairn acts as)."""

    if TYPE_CHECKING:
        ConnectionStarted: ClassVar[type[Aggregate.Event]]
        AccountConnected: ClassVar[type[Aggregate.Event]]
        TokenRefreshed: ClassVar[type[Aggregate.Event]]
        ReauthRequired: ClassVar[type[Aggregate.Event]]
        ScopesChanged: ClassVar[type[Aggregate.Event]]
        AccountDisconnected: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(tenant_id: UUID | str, person_id: str, provider: str, **_: object) -> UUID:
        # Found again from who and where alone: the token port is asked by person and provider.
        return uuid5(NAMESPACE_URL, f"cairn:connection:{tenant_id}:{person_id}:{provider}")

    @event("ConnectionStarted")
    def __init__(
        self, tenant_id: UUID, person_id: str, provider: str, requested_scopes: list[str]
    ) -> None:
        self.tenant_id = tenant_id
        self.person_id = person_id
        self.provider = provider
        self.status = ConnectionStatus.PENDING
        self.requested_scopes = sorted(requested_scopes)
        self.scopes: list[str] = []
        self.account_sealed: str | None = None
        self.account_key: str | None = None
        self.reauth_reason: str | None = None
        self.token_expires_at: datetime | None = None

    # Commands -----------------------------------------------------------------------------

    def start_again(self, requested_scopes: list[str]) -> None:
        """A new connect (a reconnect, more scopes, or after a disconnect)."""
        self._restarted(sorted(requested_scopes))

    @event("ConnectionRestarted")
    def _restarted(self, requested_scopes: list[str]) -> None:
        self.requested_scopes = requested_scopes
        if self.status is ConnectionStatus.DISCONNECTED:
            self.status = ConnectionStatus.PENDING

    def connect(self, account_sealed: str, account_key: str, scopes: list[str]) -> None:
        """The provider granted `scopes` for the account. The same account again with other
        scopes is a scope change; anything else is a (new) connected account."""
        granted = sorted(set(scopes))
        same_account = self.status is ConnectionStatus.ACTIVE and account_key == self.account_key
        if same_account:
            if granted != self.scopes:
                self._scopes_changed(granted, sorted(set(granted) - set(self.scopes)))
            return
        self._connected(account_sealed, account_key, granted)

    @event("AccountConnected")
    def _connected(self, account_sealed: str, account_key: str, scopes: list[str]) -> None:
        # account_key: a keyed hash of the provider's account id (tells a second account from
        # the same one without the id itself, which is sealed in account_sealed).
        self.account_sealed = account_sealed
        self.account_key = account_key
        self.scopes = scopes
        self.status = ConnectionStatus.ACTIVE
        self.reauth_reason = None

    @event("ScopesChanged")
    def _scopes_changed(self, scopes: list[str], added: list[str]) -> None:
        self.scopes = scopes

    def refreshed(self, expires_at: datetime, refresh_token_rotated: bool) -> None:
        if self.status is ConnectionStatus.ACTIVE:
            self._refreshed(expires_at, refresh_token_rotated)

    @event("TokenRefreshed")
    def _refreshed(self, expires_at: datetime, refresh_token_rotated: bool) -> None:
        self.token_expires_at = expires_at

    def require_reauth(self, reason: str) -> bool:
        """Record the dead grant once; False when it was already recorded."""
        if self.status is not ConnectionStatus.ACTIVE:
            return False
        self._reauth_required(reason)
        return True

    @event("ReauthRequired")
    def _reauth_required(self, reason: str) -> None:
        self.status = ConnectionStatus.REAUTH_REQUIRED
        self.reauth_reason = reason

    def disconnect(self, revoked_at_provider: bool) -> None:
        if self.status is ConnectionStatus.DISCONNECTED:
            raise InvalidTransition(
                "this connection is already disconnected", {"connection_id": str(self.id)}
            )
        self._disconnected(revoked_at_provider)

    @event("AccountDisconnected")
    def _disconnected(self, revoked_at_provider: bool) -> None:
        self.status = ConnectionStatus.DISCONNECTED
        self.scopes = []
