"""What an OAuth provider hands back, and what a connect in progress remembers: values only.

Token values are kept out of every repr (a log line or an error holding one shows nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """Who the person is at the provider (from the ID token the token endpoint returned)."""

    subject: str = field(repr=False)
    email: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token endpoint's answer. `refresh_token` None: the provider kept the old one."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scopes: frozenset[str]
    account: ProviderAccount | None = None


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """A started connect, kept under its `state` until the provider sends the person back:
    bound to the person's session, used once."""

    tenant_id: str
    person_id: str
    session_id: str
    provider: str
    scopes: tuple[str, ...]
    code_verifier: str = field(repr=False)


class ProviderNotConfigured(NotFound):
    code = "provider_not_configured"


class AuthorizationStateInvalid(InvalidInput):
    """The `state` is unknown, used already, expired, or belongs to another session."""

    code = "oauth_state_invalid"


class IssuerMismatch(InvalidInput):
    """The authorization response names another issuer than the provider's (RFC 9207)."""

    code = "oauth_issuer_mismatch"


class AuthorizationFailed(InvalidInput):
    """The provider refused the authorization (the person declined, or the code was
    refused): nothing was connected."""

    code = "oauth_authorization_failed"


class GrantRejected(Exception):
    """The token endpoint answered `invalid_grant` to a refresh: the grant is dead."""
