"""Ed25519 keys for checkpoints (type 0x01) and witness cosignatures (type 0x04), with PyNaCl.

A signer key is stored as the Go note format ``PRIVATE+KEY+<name>+<hex id>+<base64(type ||
seed)>`` (readable by the Go and C2SP tools), its verifier key as ``<name>+<hex id>+<base64(type
|| public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from dataclasses import dataclass
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from domain.audit.note import (
    COSIGNATURE_V1,
    ED25519,
    NoteError,
    NoteSignature,
    VerifierKey,
    check_key_name,
    cosignature_message,
    key_id,
)

PRIVATE_PREFIX = "PRIVATE+KEY+"


@dataclass(frozen=True)
class Ed25519Verifier:
    """Checks note signatures (type 0x01) or timestamped cosignatures (type 0x04)."""

    key: VerifierKey

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def key_id(self) -> bytes:
        return self.key.key_id

    def verify(self, text: str, signature: bytes) -> bool:
        if self.key.signature_type == COSIGNATURE_V1:
            if len(signature) != 72:
                return False
            stamp = int.from_bytes(signature[:8], "big")
            message, signature = cosignature_message(stamp, text), signature[8:]
        else:
            message = text.encode()
        try:
            VerifyKey(self.key.public_key).verify(message, signature)
        except (BadSignatureError, ValueError):
            return False
        return True

    @classmethod
    def parse(cls, vkey: str) -> Ed25519Verifier:
        return cls(VerifierKey.parse(vkey))


@dataclass(frozen=True)
class Ed25519Signer:
    name: str
    signature_type: int
    seed: bytes

    @classmethod
    def generate(cls, name: str, signature_type: int = ED25519) -> Ed25519Signer:
        return cls(check_key_name(name), signature_type, os.urandom(32))

    @classmethod
    def parse(cls, skey: str) -> Ed25519Signer:
        if not skey.startswith(PRIVATE_PREFIX):
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        name, _, rest = skey.strip()[len(PRIVATE_PREFIX) :].partition("+")
        hex_id, _, material = rest.partition("+")
        try:
            raw = base64.b64decode(material, validate=True)
        except binascii.Error as exc:
            raise NoteError("the signer key's material is not base64") from exc
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("only Ed25519 signer keys (type 0x01 or 0x04) are supported")
        signer = cls(check_key_name(name), raw[0], raw[1:])
        if signer.verifier_key.key_id.hex() != hex_id:
            raise NoteError(f"the key id of {name} does not match its key")
        return signer

    @property
    def _key(self) -> SigningKey:
        return SigningKey(self.seed)

    @property
    def verifier_key(self) -> VerifierKey:
        public = bytes(self._key.verify_key)
        return VerifierKey(
            self.name, key_id(self.name, self.signature_type, public), self.signature_type, public
        )

    def __str__(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + self.seed).decode()
        return f"{PRIVATE_PREFIX}{self.name}+{self.verifier_key.key_id.hex()}+{material}"

    def sign(self, text: str, now: float | None = None) -> NoteSignature:
        """A note signature (type 0x01), or a cosignature/v1 stamped with `now` (type 0x04)."""
        vkey = self.verifier_key
        if self.signature_type == COSIGNATURE_V1:
            stamp = int(time.time() if now is None else now)
            signed = self._key.sign(cosignature_message(stamp, text)).signature
            return NoteSignature(self.name, vkey.key_id, stamp.to_bytes(8, "big") + signed)
        return NoteSignature(self.name, vkey.key_id, self._key.sign(text.encode()).signature)


def load_or_create(path: Path, name: str, signature_type: int) -> Ed25519Signer:
    """The signer key kept in `path` (mode 0600), made on first use; `<path>.pub` gets the
    verifier key to hand to auditors."""
    if path.exists():
        return Ed25519Signer.parse(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = Ed25519Signer.generate(name, signature_type)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(str(signer) + "\n")
    path.with_name(path.name + ".pub").write_text(str(signer.verifier_key) + "\n")
    return signer
