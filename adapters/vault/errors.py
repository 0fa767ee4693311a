"""Why the vault refused, each a DomainError with a stable code.

No message or detail ever holds a plaintext, a ciphertext or key material: only tenant, record,
subject, field and key *version* names, which are identifiers, not secrets.

A failed decryption and an unknown key-encryption key are server-side faults (tampered or moved
rows, incomplete key configuration), not the caller's: they are `Unavailable` (503) so that the
API never blames the request, and an operator has to act before the same call succeeds.
"""

from __future__ import annotations

from domain.errors import InvalidInput, NotFound, Unavailable


class VaultConfigurationError(ValueError):
    """The key-encryption key configuration cannot be used (a startup error, never HTTP).

    The message names the variable or file and the entry's position, never the key itself.
    """


class VaultSecretNotFound(NotFound):
    code = "vault_secret_not_found"


class VaultDecryptionFailed(Unavailable):
    """Authentication of a ciphertext or wrapped key failed: wrong key, or the stored bytes were
    altered or copied from another row, tenant, field or subject. Nothing is returned."""

    code = "vault_decryption_failed"


class VaultKeyUnknown(Unavailable):
    """A stored key is wrapped by a key-encryption key version that is not configured."""

    code = "vault_key_unknown"


class VaultInvalidInput(InvalidInput):
    code = "vault_invalid_input"


class VaultUnavailable(Unavailable):
    code = "vault_unavailable"
