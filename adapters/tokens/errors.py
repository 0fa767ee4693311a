"""Why a token or session was refused: each a NotAuthenticated (401) with a stable code.

Messages and details stay generic on purpose: they reach the caller, who may be an attacker
holding a stolen token, so they never say which family, session or key was involved.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import NotAuthenticated


class TokenInvalid(NotAuthenticated):
    """Bad signature, unknown key, wrong algorithm, issuer or audience, malformed claims."""

    code = "token_invalid"


class TokenExpired(NotAuthenticated):
    code = "token_expired"


class SessionRevoked(NotAuthenticated):
    """The session behind a valid access token was ended (logout, device or user revoked)."""

    code = "session_revoked"


class RefreshTokenInvalid(NotAuthenticated):
    """Unknown, malformed, expired, or its session has been revoked."""

    code = "refresh_token_invalid"


@dataclass(frozen=True)
class RevokedFamily:
    """What a detected refresh-token reuse ended, for the caller's security event."""

    tenant: str
    user_id: str
    device_id: str
    family_id: str
    session_ids: tuple[str, ...]


class RefreshTokenReused(NotAuthenticated):
    """A refresh token was presented a second time: the whole family has been revoked.

    `revoked` (not `details`, which is sent to the caller) says what was ended, so the API can
    record the security event.
    """

    code = "refresh_token_reused"

    def __init__(self, revoked: RevokedFamily) -> None:
        super().__init__("this refresh token was already used; its sessions have been ended")
        self.revoked = revoked


class StepUpRequired(NotAuthenticated):
    """The action needs a recent passkey assertion (auth_time older than allowed)."""

    code = "step_up_required"


class SigningKeyError(ValueError):
    """The configured JWT key cannot be used (a startup error, never an HTTP answer)."""
