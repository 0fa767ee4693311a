"""Sessions, access tokens and the TOTP second factor, as seen by command handlers and the API.

Implemented by `adapters/tokens` (JWT access tokens, PostgreSQL sessions with rotating refresh
tokens) and `adapters/totp`. The value types live here so that adapters and callers share them
without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from domain.identity.scopes import FIRST_PARTY_SCOPES


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token (JWT claim name in brackets)."""

    issuer: str  # iss
    audience: str  # aud
    user_id: str  # sub
    tenant: str  # tid
    session_id: str  # sid
    device_id: str  # did
    issued_at: int  # iat, seconds since the epoch
    expires_at: int  # exp
    token_id: str  # jti
    auth_time: int  # when the person last proved presence with a passkey (step-up)
    # scope, space-separated in the token (domain/identity/scopes.py); none on a token issued
    # before scopes existed, which is then refused what needs one until it is refreshed.
    scopes: tuple[str, ...] = ()


class TokenPair(NamedTuple):
    """What login, refresh and step-up hand to the client. Unpacks as a 3-tuple."""

    access_token: str
    refresh_token: str
    session_id: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    tenant: str
    user_id: str
    device_id: str
    family_id: str
    created_at: datetime
    authenticated_at: datetime
    last_seen: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


class AccessTokenVerifier(Protocol):
    def verify_access_token(self, token: str) -> AccessClaims:
        """Raise NotAuthenticated `token_invalid` or `token_expired`; never return bad claims."""
        ...

    def is_fresh(self, claims: AccessClaims, max_age_s: int = 300) -> bool:
        """True if the person authenticated (passkey) within the last `max_age_s` seconds."""
        ...

    def require_fresh(self, claims: AccessClaims, max_age_s: int = 300) -> None:
        """Raise NotAuthenticated `step_up_required` unless `is_fresh`."""
        ...


class Sessions(Protocol):
    """Device-bound sessions with rotating refresh tokens and immediate revocation."""

    def create_session(
        self,
        tenant: str,
        user_id: str,
        device_id: str,
        scopes: tuple[str, ...] = FIRST_PARTY_SCOPES,
    ) -> TokenPair:
        """Call after a verified passkey login; auth_time is now. Every access token of the
        session carries `scopes` (a delegated client's are narrower)."""
        ...

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token is spent, a new pair is returned.

        A token presented twice raises NotAuthenticated `refresh_token_reused` after revoking
        every session of its family (the exception's `revoked` says which, for the event).
        """
        ...

    def check_session_active(self, claims: AccessClaims) -> None:
        """Raise NotAuthenticated `session_revoked` if the token's session has ended.

        Reads PostgreSQL on every call (no cache), so a revocation holds on the next request.
        """
        ...

    def step_up(self, claims: AccessClaims) -> str:
        """After a fresh passkey assertion: a new access token with auth_time now.

        Later refreshes of the session keep that auth_time.
        """
        ...

    def revoke_session(self, tenant: str, session_id: str, reason: str = "logout") -> bool: ...

    def revoke_device(
        self, tenant: str, device_id: str, reason: str = "device_revoked"
    ) -> list[str]:
        """End every session of the device at once; return the ids of those ended now."""
        ...

    def revoke_user(self, tenant: str, user_id: str, reason: str = "user_revoked") -> list[str]: ...

    def list_sessions(
        self, tenant: str, user_id: str, include_revoked: bool = False
    ) -> list[SessionInfo]: ...


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """Hand `secret` to the vault and `provisioning_uri` (otpauth://) to the person's app."""

    secret: str
    provisioning_uri: str


class SecondFactor(Protocol):
    def enrol(self, account_name: str) -> TotpEnrolment: ...

    def verify(self, tenant: str, user_id: str, secret: str, code: str) -> None:
        """Raise NotAuthenticated `totp_invalid` or `totp_replayed`; Unavailable if Redis is
        down (the replay check cannot be skipped)."""
        ...
