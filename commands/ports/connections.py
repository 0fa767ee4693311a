"""The connected-accounts port: a valid access token for a person's account at a provider.

Provider adapters (`adapters/integrations/providers/`) ask this port for a token just before
each call and never keep one. The implementation (`adapters/integrations/tokens.py`) reads the
token from the vault, refreshes it when it is close to expiry (serialised per connection across
processes) and records `TokenRefreshed` / `ReauthRequired` on the connection aggregate.
docs/integrations.md describes the guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.errors import DomainError


class ConnectionMissing(DomainError):
    """The person has no active connection to this provider."""

    code = "connection_missing"


class ReauthNeeded(DomainError):
    """The grant is dead (the provider answered `invalid_grant`): only the person can renew it
    by connecting again. Runs that need the connection escalate with this reason."""

    code = "reauth_required"


@dataclass(frozen=True, slots=True)
class AccessToken:
    """One bearer token, valid until `expires_at`; its value never appears in a repr or log."""

    connection_id: str
    provider: str
    value: str = field(repr=False)
    expires_at: datetime
    scopes: frozenset[str] = frozenset()


class ConnectionTokens(Protocol):
    """Access tokens of connected accounts, as provider adapters see them."""

    def access_token(self, tenant: str, person: str, provider: str) -> AccessToken:
        """A token for `person`'s active connection at `provider`, refreshed first when it
        expires soon. Raises `ConnectionMissing` or `ReauthNeeded`; a provider that is down
        raises `domain.errors.Unavailable` and leaves the connection active."""
        ...

    def rejected(self, tenant: str, token: AccessToken) -> None:
        """The provider answered 401 to `token`: the next `access_token` refreshes instead of
        handing out the same token again."""
        ...
