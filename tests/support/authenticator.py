"""A software WebAuthn authenticator and client, for tests.

It makes what a browser's `navigator.credentials.create()` / `.get()` return, JSON-encoded the
way py_webauthn expects (base64url byte fields): ES256 keys from `cryptography`, CBOR from
`cbor2`, attestation "none", authenticator data flags UP|UV|AT (0x45) for registration and
UP|UV (0x05) for assertions. Keyword knobs make the bad responses an attacker or a broken
client would send: foreign origin, wrong RP id, UV or UP clear, a chosen sign counter, another
credential or user handle, a signature over other bytes, another challenge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.webauthn.challenges import CeremonyKind, PendingCeremony
from commands.ports.passkeys import (
    RegisteredPasskey,
    StoredPasskey,
    VerifiedAssertion,
    b64url,
)

FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40
# A relying party and the browser origin its web app runs on, for tests.
EXAMPLE_RP_ID = "cairn.example"
EXAMPLE_ORIGIN = "https://app.cairn.example"
_KEEP = object()  # "use the authenticator's honest value" for knobs where None means "omit"


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftwareCredential:
    """One discoverable ES256 credential held by the authenticator."""

    rp_id: str
    user_handle: bytes
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    sign_count: int = 0
    counter_step: int = 1  # 0: a synced passkey, whose counter stays 0 forever

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        # COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


class SoftwareAuthenticator:
    """A platform authenticator bound to the browser origin it runs in."""

    def __init__(self, origin: str, *, synced: bool = False, aaguid: bytes = bytes(16)) -> None:
        self.origin = origin
        self.synced = synced
        self.aaguid = aaguid
        self.credentials: list[SoftwareCredential] = []

    def _flags(self, *, present: bool, verified: bool, attested: bool) -> int:
        flags = (FLAG_UP if present else 0) | (FLAG_UV if verified else 0)
        flags |= FLAG_AT if attested else 0
        return flags | (FLAG_BE | FLAG_BS if self.synced else 0)

    def _client_data(
        self, kind: str, options: Mapping[str, Any], origin: str | None, challenge: bytes | None
    ) -> bytes:
        payload = {
            "type": kind,
            "challenge": b64url(challenge) if challenge is not None else options["challenge"],
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    def create(
        self,
        options: Mapping[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        user_present: bool = True,
        user_verified: bool = True,
        challenge: bytes | None = None,
        reuse: SoftwareCredential | None = None,
    ) -> dict[str, Any]:
        """Register a new credential (or re-attest `reuse`, as only an attacker would)."""
        rp_id = rp_id or options["rp"]["id"]
        excluded = {unb64url(item["id"]) for item in options.get("excludeCredentials", [])}
        if reuse is None and any(c.credential_id in excluded for c in self.credentials):
            raise ValueError("InvalidStateError: a credential for this account already exists")
        credential = reuse or SoftwareCredential(
            rp_id=rp_id,
            user_handle=unb64url(options["user"]["id"]),
            counter_step=0 if self.synced else 1,
        )
        if reuse is None:
            self.credentials.append(credential)
        flags = self._flags(present=user_present, verified=user_verified, attested=True)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", credential.sign_count)
            + self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options, origin, challenge)
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def credential_for(self, options: Mapping[str, Any]) -> SoftwareCredential:
        """The credential a browser would pick: one on the allow-list, or any for the RP."""
        allowed = {unb64url(item["id"]) for item in options.get("allowCredentials", [])}
        for credential in self.credentials:
            if credential.rp_id == options["rpId"] and (
                not allowed or credential.credential_id in allowed
            ):
                return credential
        raise LookupError("NotAllowedError: no matching credential on this authenticator")

    def get(
        self,
        options: Mapping[str, Any],
        *,
        credential: SoftwareCredential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        user_present: bool = True,
        user_verified: bool = True,
        sign_count: int | None = None,
        challenge: bytes | None = None,
        user_handle: Any = _KEEP,
        tamper_signature: bool = False,
    ) -> dict[str, Any]:
        """Sign an assertion; `credential` forces one the browser would not offer."""
        credential = credential or self.credential_for(options)
        if sign_count is None:
            credential.sign_count += credential.counter_step
            sign_count = credential.sign_count
        # A forced count is what a clone would send: the honest counter carries on unchanged.
        flags = self._flags(present=user_present, verified=user_verified, attested=False)
        rp_id_hash = hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
        auth_data = rp_id_hash + bytes([flags]) + struct.pack(">I", sign_count)
        client_data = self._client_data("webauthn.get", options, origin, challenge)
        signed = auth_data + hashlib.sha256(client_data).digest()
        if tamper_signature:
            signed += b"tampered"  # a well-formed signature, over other bytes
        signature = credential.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        handle = credential.user_handle if user_handle is _KEEP else user_handle
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": None if handle is None else b64url(handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }


class PasskeyBook:
    """The caller's side, in memory: what Cairn would keep on the User aggregate."""

    def __init__(self) -> None:
        self.passkeys: dict[bytes, StoredPasskey] = {}

    def exists(self, credential_id: bytes) -> bool:
        return credential_id in self.passkeys

    def lookup(self, credential_id: bytes) -> StoredPasskey | None:
        return self.passkeys.get(credential_id)

    def add(self, registered: RegisteredPasskey) -> None:
        self.passkeys[registered.credential_id] = StoredPasskey(
            registered.credential_id,
            registered.user_id,
            registered.public_key,
            registered.sign_count,
        )

    def record_use(self, assertion: VerifiedAssertion) -> None:
        stored = self.passkeys[assertion.credential_id]
        self.passkeys[assertion.credential_id] = replace(
            stored, sign_count=assertion.new_sign_count
        )

    def ids_of(self, user_id: str) -> list[bytes]:
        return [cid for cid, stored in self.passkeys.items() if stored.user_id == user_id]


class DictChallenges:
    """A `ChallengeStore` in a dict, for unit tests of the checks (no TTL: Redis has those)."""

    def __init__(self) -> None:
        self.pending: dict[tuple[CeremonyKind, str], PendingCeremony] = {}

    def put(self, ceremony_id: str, ceremony: PendingCeremony, ttl_s: float) -> None:
        self.pending[(ceremony.kind, ceremony_id)] = ceremony

    def take(self, ceremony_id: str, kind: CeremonyKind) -> PendingCeremony | None:
        return self.pending.pop((kind, ceremony_id), None)
