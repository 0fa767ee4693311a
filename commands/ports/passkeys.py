"""Passkey ceremonies (WebAuthn relying party), as seen by command handlers and the API.

Implemented by `adapters/webauthn` (py_webauthn, challenges on Redis). The value types live
here so that adapters and callers share them without depending on each other. Everything a
ceremony takes or returns is JSON-able (options, credentials) or plain bytes and strings; the
caller owns persistence: the relying party never stores a passkey or a sign count itself.

Failures raise `domain.errors` subclasses with stable codes (see docs/passkeys.md): every
refused response is a NotAuthenticated (401), a duplicate credential at registration a Conflict
(409), Redis being down an Unavailable (503). A sign counter that went backwards raises a
NotAuthenticated whose `details["flag"]` is `POSSIBLE_CLONED_AUTHENTICATOR` and whose
`suspicion` attribute (a `ClonedAuthenticatorSuspicion`) says what to record in the event.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

POSSIBLE_CLONED_AUTHENTICATOR = "possible_cloned_authenticator"


def b64url(raw: bytes) -> str:
    """Unpadded base64url, the encoding WebAuthn JSON uses for every byte field."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class CeremonyStart(NamedTuple):
    """Send `options` to the client's `navigator.credentials`; keep `ceremony_id` for finish."""

    ceremony_id: str
    options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredPasskey:
    """What the caller has on record for a credential (from the User aggregate)."""

    credential_id: bytes
    user_id: str
    public_key: bytes  # COSE_Key, as returned in RegisteredPasskey.public_key
    sign_count: int


@dataclass(frozen=True, slots=True)
class RegisteredPasskey:
    """A verified new credential: store all of it with the user (event PasskeyAdded)."""

    credential_id: bytes
    user_id: str
    public_key: bytes  # COSE_Key bytes
    sign_count: int
    aaguid: str  # authenticator model, "00000000-0000-0000-0000-000000000000" if not told
    backup_eligible: bool  # a synced (multi-device) passkey
    backed_up: bool
    transports: tuple[str, ...]
    attestation_format: str

    @property
    def credential_id_b64(self) -> str:
        return b64url(self.credential_id)


@dataclass(frozen=True, slots=True)
class AssertionEvidence:
    """The signed bytes of an assertion, so an auditor can verify it again offline:
    signature over `authenticator_data || sha256(client_data_json)` with the stored key."""

    client_data_json: bytes
    authenticator_data: bytes
    signature: bytes
    user_handle: bytes | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "client_data_json": b64url(self.client_data_json),
            "authenticator_data": b64url(self.authenticator_data),
            "signature": b64url(self.signature),
            "user_handle": None if self.user_handle is None else b64url(self.user_handle),
        }


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """A verified login or step-up. Store `new_sign_count` (event PasskeyUsed)."""

    credential_id: bytes
    user_id: str
    new_sign_count: int
    user_verified: bool
    backup_eligible: bool
    backed_up: bool
    origin: str
    evidence: AssertionEvidence

    @property
    def credential_id_b64(self) -> str:
        return b64url(self.credential_id)

    def as_event_data(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id_b64,
            "user_id": self.user_id,
            "sign_count": self.new_sign_count,
            "user_verified": self.user_verified,
            "backup_eligible": self.backup_eligible,
            "backed_up": self.backed_up,
            "origin": self.origin,
            "evidence": self.evidence.as_json(),
        }


@dataclass(frozen=True, slots=True)
class VerifiedApproval:
    """A verified plan-bound approval: record `as_event_data()` in the approval event.

    `challenge` is `plan_hash` followed by a fresh nonce (see docs/passkeys.md): it starts with
    the plan hash, so the assertion is bound to that plan, and it is new for every ceremony, so
    an approval of an identical plan cannot be replayed.
    """

    plan_hash: bytes
    challenge: bytes
    assertion: VerifiedAssertion

    @property
    def credential_id(self) -> bytes:
        return self.assertion.credential_id

    def as_event_data(self) -> dict[str, Any]:
        return {
            "plan_hash": b64url(self.plan_hash),
            "challenge": b64url(self.challenge),
            **self.assertion.as_event_data(),
        }


@dataclass(frozen=True, slots=True)
class ClonedAuthenticatorSuspicion:
    """Attached (as `suspicion`) to the error for a sign counter that did not increase.

    Only raised for an assertion whose signature verified, so it is never a forger's noise.
    """

    credential_id: bytes
    user_id: str
    stored_sign_count: int
    presented_sign_count: int


PasskeyLookup = Callable[[bytes], StoredPasskey | None]
CredentialExists = Callable[[bytes], bool]
JsonCredential = str | Mapping[str, Any]


class PasskeyCeremonies(Protocol):
    """The relying party's ceremonies. Each ceremony id can be finished once, within its TTL
    (120 s for registration and login, 300 s for approval, by default); a finish that fails
    spends it too, so the client starts again."""

    def begin_registration(
        self,
        user_id: str,
        user_name: str,
        display_name: str,
        existing_credential_ids: list[bytes],
    ) -> CeremonyStart: ...

    def finish_registration(
        self,
        ceremony_id: str,
        credential_json: JsonCredential,
        credential_id_exists: CredentialExists,
    ) -> RegisteredPasskey:
        """`credential_id_exists` answers for every user of every tenant: a credential id may
        be registered once, ever. Refused: Conflict `passkey_already_registered`."""
        ...

    def begin_authentication(
        self, user_id: str | None, allowed_credential_ids: list[bytes]
    ) -> CeremonyStart:
        """`user_id` None starts a discoverable (username-less) login."""
        ...

    def finish_authentication(
        self, ceremony_id: str, assertion_json: JsonCredential, lookup: PasskeyLookup
    ) -> VerifiedAssertion: ...

    def begin_plan_approval(
        self, user_id: str, plan_hash: bytes, allowed_credential_ids: list[bytes]
    ) -> CeremonyStart: ...

    def finish_plan_approval(
        self,
        ceremony_id: str,
        assertion_json: JsonCredential,
        expected_plan_hash: bytes,
        lookup: PasskeyLookup,
    ) -> VerifiedApproval:
        """Refused with `passkey_plan_mismatch` if the ceremony was started for another plan."""
        ...
