"""The relying party's own checks, each failing with its own error code.

py_webauthn makes the same checks but reports every failure as one exception type with a
free-text message; checking first here gives callers (and the tests) a stable code per cause.
py_webauthn's verification still runs afterwards, as the second line of defence.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from webauthn.helpers.structs import (
    AuthenticatorData,
    ClientDataType,
    CollectedClientData,
    TokenBindingStatus,
)

from adapters.webauthn.errors import (
    ChallengeMismatch,
    OriginNotAllowed,
    ResponseMalformed,
    RpIdMismatch,
    UserNotPresent,
    UserNotVerified,
    WrongClientDataType,
)

# WebAuthn Level 3 §7.1 step 23: Relying Parties SHOULD reject credential ids over 1023 bytes.
MAX_CREDENTIAL_ID_BYTES = 1023
# The spec caps user.id (the user handle) at 64 bytes.
MAX_USER_HANDLE_BYTES = 64
APPROVAL_NONCE_BYTES = 16
# What py_webauthn accepts; checked here too so an odd status gets its own code.
_TOKEN_BINDING_STATUSES = (TokenBindingStatus.SUPPORTED, TokenBindingStatus.PRESENT)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# A host name as browsers serialise it: lowercase letters, digits, hyphens, dots. No wildcards.
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def rp_id_hash(rp_id: str) -> bytes:
    return hashlib.sha256(rp_id.encode("utf-8")).digest()


def user_handle_of(user_id: str) -> bytes:
    """The WebAuthn user handle for a Cairn user id (a UUID: opaque, no personal data)."""
    handle = user_id.encode("utf-8")
    if not handle or len(handle) > MAX_USER_HANDLE_BYTES:
        raise ValueError(f"a user id must be 1 to {MAX_USER_HANDLE_BYTES} bytes of UTF-8")
    return handle


def approval_challenge(plan_hash: bytes, nonce: bytes) -> bytes:
    """The challenge of a plan approval: the plan hash, then a fresh nonce.

    The prefix binds the assertion to the plan (an auditor checks that the signed challenge
    starts with the plan hash). The nonce makes every ceremony's challenge new: without it, a
    synced passkey (sign count always 0) would sign identical bytes for an identical plan, and
    an approval captured once could be replayed against a later run with the same plan.
    """
    if not 16 <= len(plan_hash) <= 64:
        raise ValueError("a plan hash must be 16 to 64 bytes (e.g. a SHA-256 digest)")
    if len(nonce) != APPROVAL_NONCE_BYTES:
        raise ValueError(f"an approval nonce must be {APPROVAL_NONCE_BYTES} bytes")
    return plan_hash + nonce


def challenge_binds_plan(challenge: bytes, plan_hash: bytes) -> bool:
    """True if `challenge` is an approval challenge made for `plan_hash` (for auditors)."""
    return len(challenge) == len(plan_hash) + APPROVAL_NONCE_BYTES and hmac.compare_digest(
        challenge[: len(plan_hash)], plan_hash
    )


def normalised_origins(origins: Iterable[str], rp_id: str) -> frozenset[str]:
    """Validate the allow-list at start-up; the origins are then compared as exact strings.

    Each must be written exactly as a browser serialises an origin (lowercase scheme and host,
    no path, no trailing slash, no default port), be https (http only on loopback), and be the
    rp id or a subdomain of it, or no browser would ever produce a matching response.
    """
    if not _HOST_NAME.fullmatch(rp_id):
        raise ValueError(f"rp_id must be a bare lowercase host name, not {rp_id!r}")
    allowed = frozenset(origins)
    if not allowed:
        raise ValueError("at least one allowed origin is required")
    for origin in allowed:
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        default_port = {"https": 443, "http": 80}.get(parts.scheme)
        written = f"{parts.scheme}://{parts.netloc}"
        host_ok = bool(_HOST_NAME.fullmatch(host)) or host in _LOOPBACK_HOSTS
        if origin != written.lower() or parts.port == default_port or not host_ok:
            raise ValueError(f"origin {origin!r} is not in serialised form (scheme://host[:port])")
        if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK_HOSTS):
            raise ValueError(f"origin {origin!r} must use https (http only on loopback)")
        if host != rp_id and not host.endswith("." + rp_id):
            raise ValueError(f"origin {origin!r} is not within rp_id {rp_id!r}")
    return allowed


def check_client_data(
    client_data: CollectedClientData,
    *,
    expected_type: ClientDataType,
    expected_challenge: bytes,
    allowed_origins: frozenset[str],
) -> None:
    # parse_client_data_json takes field values from the JSON as they are: not always strings.
    if not isinstance(client_data.type, str) or not isinstance(client_data.origin, str):
        raise ResponseMalformed("the client data type and origin must be strings")
    if client_data.type != expected_type:
        raise WrongClientDataType(f"expected a {expected_type.value} response")
    if not hmac.compare_digest(client_data.challenge, expected_challenge):
        raise ChallengeMismatch("the response was made for another challenge")
    # Exact string match: no prefix, pattern or subdomain matching.
    if client_data.origin not in allowed_origins:
        raise OriginNotAllowed("the response comes from an origin that is not allowed")
    if client_data.cross_origin:
        # Cairn is never embedded in another site's frame; such a response is a framing attack.
        raise OriginNotAllowed("the response was made inside a cross-origin frame")
    binding = client_data.token_binding
    if binding is not None and binding.status not in _TOKEN_BINDING_STATUSES:
        raise ResponseMalformed("the client data has an unknown token binding status")


def check_authenticator_data(auth_data: AuthenticatorData, *, expected_rp_id_hash: bytes) -> None:
    if not hmac.compare_digest(auth_data.rp_id_hash, expected_rp_id_hash):
        raise RpIdMismatch("the authenticator signed for another relying party id")
    if not auth_data.flags.up:
        raise UserNotPresent("the authenticator did not confirm user presence")
    if not auth_data.flags.uv:
        raise UserNotVerified("the authenticator did not verify the user")
    if auth_data.flags.bs and not auth_data.flags.be:
        raise ResponseMalformed("backed up but not backup-eligible: impossible flags")


def sign_count_acceptable(stored: int, presented: int) -> bool:
    """WebAuthn §7.2 step 21: when either count is non-zero the new one must be greater.

    Synced passkeys always report 0 (both zero: nothing to compare); an equal non-zero count is
    as suspicious as a lower one, since an honest authenticator increments on every assertion.
    """
    if stored == 0 and presented == 0:
        return True
    return presented > stored
