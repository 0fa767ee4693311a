"""XChaCha20-Poly1305 with associated data: the one cipher of the vault, and what it binds to.

Every stored blob is `nonce (24 bytes) || ciphertext with tag`. The nonce is random for every
encryption: 192 bits make a collision negligible even with billions of messages under one key,
which is why XChaCha20 and not ChaCha20 (96-bit nonce).

Associated data is not stored; it is rebuilt at decryption from where the blob was found (its
tenant, row, key version). A blob copied anywhere else therefore fails authentication. Each kind
of blob starts its associated data with its own purpose label, so a wrapped data key can never
be accepted as a wrapped subject key, a secret or a personal field, even with equal fields.
"""

from __future__ import annotations

import secrets
from typing import Final

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_ABYTES,
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
)
from nacl.exceptions import CryptoError

KEY_BYTES: Final[int] = crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_BYTES: Final[int] = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
TAG_BYTES: Final[int] = crypto_aead_xchacha20poly1305_ietf_ABYTES
WRAPPED_KEY_BYTES: Final[int] = NONCE_BYTES + KEY_BYTES + TAG_BYTES

_DATA_KEY: Final = "cairn.vault.data-key.v1"
_SUBJECT_KEY: Final = "cairn.vault.subject-key.v1"
_SECRET: Final = "cairn.vault.secret.v1"  # noqa: S105 (a purpose label, not a password)
_PERSONAL: Final = "cairn.vault.personal.v1"


class AuthenticationFailed(Exception):
    """The blob does not authenticate under this key and associated data.

    Deliberately without detail: callers raise a DomainError that says *which* stored item
    failed, which only they know.
    """


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encrypt(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, associated_data, nonce, key
    )


def decrypt(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise AuthenticationFailed
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        return crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, associated_data, nonce, key)
    except CryptoError:
        raise AuthenticationFailed from None


def associated_data(purpose: str, *fields: str | int) -> bytes:
    """An unambiguous encoding: every part is length-prefixed, so ("a:b", "c") and
    ("a", "b:c") never encode alike, whatever characters the identifiers contain."""
    encoded = bytearray()
    for part in (purpose, *fields):
        raw = str(part).encode("utf-8")
        encoded += len(raw).to_bytes(4, "big") + raw
    return bytes(encoded)


def data_key_ad(tenant: str, data_key_version: int, kek_version: str) -> bytes:
    return associated_data(_DATA_KEY, tenant, data_key_version, kek_version)


def subject_key_ad(tenant: str, subject_id: str, key_id: str, kek_version: str) -> bytes:
    return associated_data(_SUBJECT_KEY, tenant, subject_id, key_id, kek_version)


def secret_ad(tenant: str, record_id: str, data_key_version: int) -> bytes:
    return associated_data(_SECRET, tenant, record_id, data_key_version)


def personal_ad(tenant: str, subject_id: str, key_id: str, field: str) -> bytes:
    return associated_data(_PERSONAL, tenant, subject_id, key_id, field)
