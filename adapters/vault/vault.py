"""The vault over PostgreSQL: implements `commands.ports.vault.Vault` (tables of migration 0010).

Key hierarchy (docs/vault.md): KEKs from configuration wrap one data key per tenant and
version, and one key per personal-data subject; data keys encrypt secrets, subject keys encrypt
personal fields. Every ciphertext is bound by associated data to where it belongs, so a row
copied to another record, tenant, field or subject fails to decrypt and nothing is returned.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg_pool import ConnectionPool

from adapters.vault import aead
from adapters.vault.cache import DataKeyCache
from adapters.vault.db import tenant_transaction
from adapters.vault.errors import VaultDecryptionFailed, VaultInvalidInput, VaultSecretNotFound
from adapters.vault.keyring import KeyRing
from adapters.vault.keys import (
    add_data_key_version,
    current_data_key,
    find_subject_key,
    subject_key_for_sealing,
    unwrap_subject_key,
)
from adapters.vault.personal_token import format_token, parse_token
from adapters.vault.rotation import RotationReport, rewrap_all_keys
from adapters.vault.sealed import SealedRow, StoredSecret, open_secret, stored_from_json
from commands.ports.vault import ERASED, Erased, Secret, SecretRef

logger = logging.getLogger("cairn.vault")

MAX_IDENTIFIER_CHARS = 200
# Provider API keys and OAuth tokens are far smaller; a bound keeps a bug from storing a file.
DEFAULT_MAX_VALUE_BYTES = 64 * 1024


def _stored(row: Sequence[Any]) -> StoredSecret:
    version, ciphertext, kek_version, wrapped = row
    return StoredSecret(int(version), bytes(ciphertext), str(kek_version), bytes(wrapped))


def _check_identifiers(**values: str) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_IDENTIFIER_CHARS:
            raise VaultInvalidInput(
                f"{name} must be a non-empty string of at most {MAX_IDENTIFIER_CHARS} characters"
            )
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise VaultInvalidInput(f"{name} must not contain control characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise VaultInvalidInput(f"{name} is not valid unicode text") from None


class PostgresVault:
    """Implements `commands.ports.vault.Vault`; thread-safe (share one per process)."""

    def __init__(
        self,
        pool: ConnectionPool[Any],
        keyring: KeyRing,
        *,
        data_key_cache_size: int = 1024,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self.pool = pool
        self.keyring = keyring
        self.data_keys = DataKeyCache(data_key_cache_size)
        self.max_value_bytes = max_value_bytes

    def __repr__(self) -> str:
        return f"PostgresVault({self.keyring!r}, {self.data_keys!r})"

    def _check_size(self, size: int) -> None:
        if size > self.max_value_bytes:
            raise VaultInvalidInput(
                f"the value is {size} bytes; the vault stores at most {self.max_value_bytes}"
            )

    # Secrets --------------------------------------------------------------------------------

    def put_secret(self, tenant: str, record_id: str, plaintext: bytes | Secret) -> SecretRef:
        _check_identifiers(tenant=tenant, record_id=record_id)
        if isinstance(plaintext, Secret):
            plaintext = plaintext.reveal()
        if not isinstance(plaintext, bytes | bytearray):
            raise VaultInvalidInput(f"a secret is bytes, not {type(plaintext).__name__}")
        self._check_size(len(plaintext))
        with tenant_transaction(self.pool, tenant) as conn:
            version, key = current_data_key(conn, self.keyring, self.data_keys, tenant)
            ciphertext = aead.encrypt(
                key, bytes(plaintext), aead.secret_ad(tenant, record_id, version)
            )
            conn.execute(
                "INSERT INTO vault_secrets (tenant_id, record_id, data_key_version, ciphertext)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, record_id) DO UPDATE SET"
                " data_key_version = EXCLUDED.data_key_version,"
                " ciphertext = EXCLUDED.ciphertext, updated_at = now()",
                (tenant, record_id, version, ciphertext),
            )
        return SecretRef(tenant, record_id, version)

    def get_secret(self, tenant: str, record_id: str) -> bytes:
        _check_identifiers(tenant=tenant, record_id=record_id)
        with tenant_transaction(self.pool, tenant) as conn:
            row = conn.execute(
                "SELECT s.data_key_version, s.ciphertext, k.kek_version, k.wrapped_key"
                " FROM vault_secrets s JOIN vault_data_keys k"
                " ON k.tenant_id = s.tenant_id AND k.version = s.data_key_version"
                " WHERE s.tenant_id = %s AND s.record_id = %s",
                (tenant, record_id),
            ).fetchone()
        if row is None:
            raise VaultSecretNotFound(
                f"no secret {record_id!r} in tenant {tenant!r}",
                {"tenant": tenant, "record_id": record_id},
            )
        return open_secret(self.keyring, self.data_keys, tenant, record_id, _stored(row))

    def sealed_secrets(self, tenant: str, prefix: str) -> dict[str, SealedRow]:
        _check_identifiers(tenant=tenant)
        with tenant_transaction(self.pool, tenant) as conn:
            rows = conn.execute(
                "SELECT s.record_id,"
                " s.data_key_version, s.ciphertext, k.kek_version, k.wrapped_key"
                " FROM vault_secrets s JOIN vault_data_keys k"
                " ON k.tenant_id = s.tenant_id AND k.version = s.data_key_version"
                " WHERE s.tenant_id = %s AND starts_with(s.record_id, %s)",
                (tenant, prefix),
            ).fetchall()
        return {
            str(record_id): SealedRow(
                self.keyring, self.data_keys, tenant, str(record_id), _stored(stored)
            )
            for record_id, *stored in rows
        }

    def sealed_rows(
        self, tenant: str, rows: Iterable[tuple[str, int, str, str, str]]
    ) -> dict[str, SealedRow]:
        """What `sealed_secrets` answers, from the rows of `sealed.SEALED_SECRETS_JSON` that
        another read of the tenant carried (with its tenant set for row-level security)."""
        return {
            record_id: SealedRow(self.keyring, self.data_keys, tenant, record_id, stored)
            for record_id, stored in stored_from_json(rows)
        }

    def secret_ids(self, tenant: str, prefix: str) -> frozenset[str]:
        _check_identifiers(tenant=tenant)
        with tenant_transaction(self.pool, tenant) as conn:
            rows = conn.execute(
                "SELECT record_id FROM vault_secrets"
                " WHERE tenant_id = %s AND starts_with(record_id, %s)",
                (tenant, prefix),
            ).fetchall()
        return frozenset(str(row[0]) for row in rows)

    def delete_secret(self, tenant: str, record_id: str) -> bool:
        _check_identifiers(tenant=tenant, record_id=record_id)
        with tenant_transaction(self.pool, tenant) as conn:
            deleted = conn.execute(
                "DELETE FROM vault_secrets WHERE tenant_id = %s AND record_id = %s"
                " RETURNING record_id",
                (tenant, record_id),
            ).fetchone()
        return deleted is not None

    # Personal fields (crypto-shredding) ------------------------------------------------------

    def seal_personal(self, tenant: str, subject_id: str, field: str, value: str) -> str:
        _check_identifiers(tenant=tenant, subject_id=subject_id, field=field)
        if not isinstance(value, str):
            raise VaultInvalidInput(f"a personal value is str, not {type(value).__name__}")
        try:
            plaintext = value.encode("utf-8")
        except UnicodeEncodeError:
            # Not `from exc`: its message quotes the offending character of the value.
            raise VaultInvalidInput("the value is not valid unicode text") from None
        self._check_size(len(plaintext))
        with tenant_transaction(self.pool, tenant) as conn:
            key_id, key = subject_key_for_sealing(conn, self.keyring, tenant, subject_id)
        blob = aead.encrypt(key, plaintext, aead.personal_ad(tenant, subject_id, key_id, field))
        return format_token(subject_id, key_id, blob)

    def open_personal(self, tenant: str, token: str, field: str) -> str | Erased:
        _check_identifiers(tenant=tenant, field=field)
        subject_id, key_id, blob = parse_token(token)
        _check_identifiers(subject_id=subject_id)
        with tenant_transaction(self.pool, tenant) as conn:
            stored = find_subject_key(conn, tenant, subject_id)
            erased = False
            if stored is None or stored.key_id != key_id:
                erased = conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM vault_erased_subjects WHERE tenant_id = %s"
                    " AND subject_id = %s AND key_id = %s)",
                    (tenant, subject_id, key_id),
                ).fetchone() == (True,)
        if erased:
            return ERASED
        if stored is None or stored.key_id != key_id:
            raise VaultDecryptionFailed(
                f"no personal-data key of tenant {tenant!r} opens this token: it was sealed in"
                " another tenant or its key never existed here",
                {"tenant": tenant},
            )
        key = unwrap_subject_key(self.keyring, tenant, subject_id, stored)
        try:
            plaintext = aead.decrypt(key, blob, aead.personal_ad(tenant, subject_id, key_id, field))
        except aead.AuthenticationFailed:
            logger.warning("a personal field %s of tenant %s failed authentication", field, tenant)
            raise VaultDecryptionFailed(
                f"the personal field {field!r} cannot be decrypted: the token was altered or"
                " sealed for another field",
                {"tenant": tenant, "field": field},
            ) from None
        return plaintext.decode("utf-8")

    def erase_subject(self, tenant: str, subject_id: str) -> bool:
        _check_identifiers(tenant=tenant, subject_id=subject_id)
        with tenant_transaction(self.pool, tenant) as conn:
            deleted = conn.execute(
                "DELETE FROM vault_subject_keys WHERE tenant_id = %s AND subject_id = %s"
                " RETURNING key_id",
                (tenant, subject_id),
            ).fetchone()
            if deleted is not None:
                conn.execute(
                    "INSERT INTO vault_erased_subjects (tenant_id, subject_id, key_id)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (tenant, subject_id, deleted[0]),
                )
        if deleted is not None:
            # No subject id in the log: the log outlives the erasure.
            logger.info("erased a personal-data key of tenant %s", tenant)
        return deleted is not None

    # Rotation (operator actions; not part of the port) ---------------------------------------

    def rotate_data_key(self, tenant: str) -> int:
        """A new data key for the tenant's future writes; returns its version. Secrets written
        before keep their version and still decrypt (nothing is re-encrypted)."""
        _check_identifiers(tenant=tenant)
        with tenant_transaction(self.pool, tenant) as conn:
            return add_data_key_version(conn, self.keyring, tenant)

    def rotate_kek(self) -> RotationReport:
        """Re-wrap every data key and subject key under the current KEK; safe to re-run."""
        return rewrap_all_keys(self.pool, self.keyring, self.data_keys)
