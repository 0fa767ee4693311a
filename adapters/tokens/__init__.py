"""Access tokens (JWT) and device-bound sessions with rotating refresh tokens."""

from adapters.tokens.access import AccessTokens
from adapters.tokens.errors import (
    RefreshTokenInvalid,
    RefreshTokenReused,
    RevokedFamily,
    SessionRevoked,
    SigningKeyError,
    StepUpRequired,
    TokenExpired,
    TokenInvalid,
)
from adapters.tokens.keys import TokenKeys
from adapters.tokens.sessions import PostgresSessions

__all__ = [
    "AccessTokens",
    "PostgresSessions",
    "RefreshTokenInvalid",
    "RefreshTokenReused",
    "RevokedFamily",
    "SessionRevoked",
    "SigningKeyError",
    "StepUpRequired",
    "TokenExpired",
    "TokenInvalid",
    "TokenKeys",
]
