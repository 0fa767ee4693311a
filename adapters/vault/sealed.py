"""Secrets read as stored and decrypted only when opened.

`PostgresVault.sealed_secrets` reads every secret of a prefix (the model keys a tenant
configured) with its wrapped data key in one statement; nothing is decrypted until a caller
opens one (the planner leases one key per model call). `get_secret` opens the row it reads the
same way, so both paths decrypt, authenticate and fail alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NamedTuple

from adapters.vault import aead
from adapters.vault.cache import DataKeyCache, WrappedDataKey
from adapters.vault.errors import VaultDecryptionFailed
from adapters.vault.keyring import KeyRing
from adapters.vault.keys import unwrap_data_key

logger = logging.getLogger("cairn.vault")

# A tenant's secrets of a prefix with their wrapped data keys as one JSON array, for a read
# that carries them in a statement of its own (adapters/context/planning_views.py, decision
# 0056). Its parameters are named `tenant_text` and `secrets_prefix`; its rows are read back by
# `PostgresVault.sealed_rows` (bytea as hex: JSON has no bytes).
SEALED_SECRETS_JSON = (
    "SELECT coalesce(json_agg(json_build_array(s.record_id, s.data_key_version,"
    " encode(s.ciphertext, 'hex'), k.kek_version, encode(k.wrapped_key, 'hex'))), '[]')"
    " FROM vault_secrets s JOIN vault_data_keys k"
    " ON k.tenant_id = s.tenant_id AND k.version = s.data_key_version"
    " WHERE s.tenant_id = %(tenant_text)s AND starts_with(s.record_id, %(secrets_prefix)s)"
)


class StoredSecret(NamedTuple):
    data_key_version: int
    ciphertext: bytes
    kek_version: str
    wrapped_key: bytes


def open_secret(
    keyring: KeyRing, data_keys: DataKeyCache, tenant: str, record_id: str, row: StoredSecret
) -> bytes:
    """The plaintext of a stored row; `VaultDecryptionFailed` if it was altered or copied from
    another record or tenant (its associated data names both)."""
    key = unwrap_data_key(
        keyring,
        data_keys,
        WrappedDataKey(tenant, row.data_key_version, row.kek_version, row.wrapped_key),
    )
    associated = aead.secret_ad(tenant, record_id, row.data_key_version)
    try:
        return aead.decrypt(key, row.ciphertext, associated)
    except aead.AuthenticationFailed:
        logger.warning("secret %s of tenant %s failed authentication", record_id, tenant)
        raise VaultDecryptionFailed(
            f"secret {record_id!r} of tenant {tenant!r} cannot be decrypted: it was altered"
            " or copied from another record or tenant",
            {"tenant": tenant, "record_id": record_id},
        ) from None


def stored_from_json(
    rows: Iterable[tuple[str, int, str, str, str]],
) -> Iterable[tuple[str, StoredSecret]]:
    """The rows of `SEALED_SECRETS_JSON`, by record id."""
    for record_id, version, ciphertext, kek_version, wrapped in rows:
        yield (
            record_id,
            StoredSecret(version, bytes.fromhex(ciphertext), kek_version, bytes.fromhex(wrapped)),
        )


class SealedRow:
    """Implements `commands.ports.vault.SealedSecret`: a stored row, opened on request. Its repr
    names the record, never the ciphertext."""

    __slots__ = ("_data_keys", "_keyring", "_row", "record_id", "tenant")

    def __init__(
        self,
        keyring: KeyRing,
        data_keys: DataKeyCache,
        tenant: str,
        record_id: str,
        row: StoredSecret,
    ) -> None:
        self._keyring = keyring
        self._data_keys = data_keys
        self._row = row
        self.tenant = tenant
        self.record_id = record_id

    def open(self) -> bytes:
        return open_secret(self._keyring, self._data_keys, self.tenant, self.record_id, self._row)

    def __repr__(self) -> str:
        return f"SealedRow({self.tenant!r}, {self.record_id!r})"
