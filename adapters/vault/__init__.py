"""The vault: envelope encryption of secrets and crypto-shredded personal fields (docs/vault.md)."""

from adapters.vault.errors import (
    VaultConfigurationError,
    VaultDecryptionFailed,
    VaultInvalidInput,
    VaultKeyUnknown,
    VaultSecretNotFound,
    VaultUnavailable,
)
from adapters.vault.keyring import KEKS_ENV, KeyRing, new_kek_entry
from adapters.vault.rotation import RotationReport, rotate
from adapters.vault.vault import PostgresVault

__all__ = [
    "KEKS_ENV",
    "KeyRing",
    "PostgresVault",
    "RotationReport",
    "VaultConfigurationError",
    "VaultDecryptionFailed",
    "VaultInvalidInput",
    "VaultKeyUnknown",
    "VaultSecretNotFound",
    "VaultUnavailable",
    "new_kek_entry",
    "rotate",
]
