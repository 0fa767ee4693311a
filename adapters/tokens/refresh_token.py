"""The refresh token string: opaque to clients, hashed at rest.

Format `crt1.<tenant, base64url>.<256 random bits, base64url>`. The tenant travels in the
token so the store can set the tenant of its transaction (row-level security) before the
lookup; changing it changes the hash, so it cannot be used to reach another tenant's row.
SHA-256 suffices as the hash: the secret is 256 random bits, not a guessable password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from adapters.tokens.errors import RefreshTokenInvalid
from domain.storable import unstorable

_VERSION = "crt1"
_MAX_LENGTH = 512


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_refresh_token(tenant: str) -> str:
    return f"{_VERSION}.{_b64(tenant.encode())}.{_b64(secrets.token_bytes(32))}"


def tenant_of(token: str) -> str:
    """The tenant named in the token; RefreshTokenInvalid if it is not one of ours."""
    parts = token.split(".") if len(token) <= _MAX_LENGTH else []
    if len(parts) != 3 or parts[0] != _VERSION or not parts[1] or len(parts[2]) != 43:
        raise RefreshTokenInvalid("the refresh token is not valid")
    encoded = parts[1]
    try:
        tenant = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise RefreshTokenInvalid("the refresh token is not valid") from exc
    if not tenant or unstorable(tenant):  # it is a database value before the hash is checked
        raise RefreshTokenInvalid("the refresh token is not valid")
    return tenant


def hash_of(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
