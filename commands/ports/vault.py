"""The vault as seen by command handlers: secrets at rest and crypto-shredded personal fields.

Implemented by `adapters/vault` (envelope encryption with XChaCha20-Poly1305, keys in
PostgreSQL wrapped by key-encryption keys from configuration). The value types live here so
that adapters and callers share them without depending on each other.

Methods are synchronous: the command side is synchronous and FastAPI runs `def` endpoints in a
thread pool.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NoReturn, Protocol, final

PERSONAL_TOKEN_PREFIX: Final = "pii:v1:"  # noqa: S105 (a format marker, not a password)


@final
class Secret:
    """Bytes that must never be printed: repr and str are redacted, pickling is refused.

    Wrap a secret as soon as you hold it and call `reveal()` only at the call that needs the
    plaintext (the HTTP header of a provider request, say), so that a log line, an exception
    or a debugger's repr of any object holding it shows `Secret('***')`.
    """

    __slots__ = ("_value",)
    _value: bytes

    def __init__(self, value: bytes | bytearray) -> None:
        if not isinstance(value, bytes | bytearray):
            # The type's name only: the value itself could be the secret.
            raise TypeError(f"Secret holds bytes, not {type(value).__name__}")
        object.__setattr__(self, "_value", bytes(value))

    @classmethod
    def from_text(cls, text: str) -> Secret:
        return cls(text.encode("utf-8"))

    def reveal(self) -> bytes:
        return self._value

    def reveal_text(self) -> str:
        return self._value.decode("utf-8")

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time: comparing secrets must not tell an attacker how much of a guess was right.
        return hmac.compare_digest(self._value, other._value)

    def __len__(self) -> int:
        return len(self._value)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        # A pickle would carry the plaintext out of the process (to a queue, cache or file).
        raise TypeError("a Secret cannot be pickled")


@final
class Erased(str):
    """What `open_personal` returns once the subject's key is destroyed.

    A `str` ("[erased]") so that display and replay code can show it as is; tell it apart from a
    real value with `value is ERASED` or `isinstance(value, Erased)`, never with `==`.
    """

    _instance: ClassVar[Erased | None] = None

    def __new__(cls) -> Erased:
        if cls._instance is None:
            cls._instance = super().__new__(cls, "[erased]")
        return cls._instance

    def __repr__(self) -> str:
        return "ERASED"

    def __reduce__(self) -> tuple[type[Erased], tuple[()]]:
        return (Erased, ())  # unpickles to the one instance, so `is ERASED` still holds


ERASED: Final = Erased()


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret was stored and under which data-key version (no plaintext, no ciphertext).

    Safe to put into events: it names the secret without revealing it.
    """

    tenant: str
    record_id: str
    data_key_version: int


def is_personal_token(value: object) -> bool:
    """True for a string made by `seal_personal` (for replay code walking event payloads)."""
    return isinstance(value, str) and value.startswith(PERSONAL_TOKEN_PREFIX)


class SealedSecret(Protocol):
    """A secret as the vault stores it, read but not decrypted: `open()` decrypts it, and
    fails as `Vault.get_secret` does for a row that was altered or copied."""

    def open(self) -> bytes: ...


class Vault(Protocol):
    """Secrets (provider API keys, OAuth tokens) and personal fields, each bound to its tenant.

    Errors are DomainErrors with stable codes: `vault_secret_not_found` (404),
    `vault_decryption_failed` and `vault_key_unknown` (503: the stored data or the key
    configuration is wrong, not the request), `vault_invalid_input` (400), `vault_unavailable`
    (503). No error message ever contains a plaintext or key material.
    """

    def put_secret(self, tenant: str, record_id: str, plaintext: bytes | Secret) -> SecretRef:
        """Store (or replace) the secret of `record_id`, encrypted with the tenant's current
        data key. The ciphertext is bound to (tenant, record_id, data-key version)."""
        ...

    def get_secret(self, tenant: str, record_id: str) -> bytes:
        """The plaintext; raises `vault_secret_not_found` or `vault_decryption_failed` (also
        when a ciphertext was copied from another row or tenant)."""
        ...

    def delete_secret(self, tenant: str, record_id: str) -> bool:
        """Remove the secret; True if there was one."""
        ...

    def secret_ids(self, tenant: str, prefix: str) -> frozenset[str]:
        """The record ids of the tenant's secrets that start with `prefix` (nothing is
        decrypted: what is configured, without reading it)."""
        ...

    def sealed_secrets(self, tenant: str, prefix: str) -> Mapping[str, SealedSecret]:
        """The tenant's secrets whose record ids start with `prefix`, by record id, in one
        read; each is decrypted only when opened (what is configured, and its lease)."""
        ...

    def seal_personal(self, tenant: str, subject_id: str, field: str, value: str) -> str:
        """A token (`pii:v1:...`) to store inside an immutable event instead of `value`.

        Encrypted with the subject's own key, bound to (tenant, subject, key, field).
        """
        ...

    def open_personal(self, tenant: str, token: str, field: str) -> str | Erased:
        """The sealed value, or `ERASED` once the subject was erased.

        Raises `vault_decryption_failed` for a token of another tenant, field or subject key
        that was never erased here, and `vault_invalid_input` for a string that is no token.
        """
        ...

    def erase_subject(self, tenant: str, subject_id: str) -> bool:
        """Destroy the subject's key (GDPR erasure): every token sealed for them opens as
        ERASED from now on, in every process. Idempotent; True if a key existed."""
        ...
