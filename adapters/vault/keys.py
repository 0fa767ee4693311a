"""Data keys and subject keys in PostgreSQL, wrapped by the key ring's KEKs.

Each function works inside a transaction the caller opened (with the tenant set), so a key is
created, read or rotated atomically with whatever the caller writes next.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, NamedTuple

import psycopg

from adapters.vault import aead
from adapters.vault.cache import DataKeyCache, WrappedDataKey
from adapters.vault.errors import VaultDecryptionFailed
from adapters.vault.keyring import KeyRing

logger = logging.getLogger("cairn.vault")


def wrap_data_key(keyring: KeyRing, tenant: str, version: int, key: bytes) -> WrappedDataKey:
    kek_version = keyring.current_version
    wrapped = aead.encrypt(keyring.current_key, key, aead.data_key_ad(tenant, version, kek_version))
    return WrappedDataKey(tenant, version, kek_version, wrapped)


def unwrap_data_key(keyring: KeyRing, cache: DataKeyCache, wrapped: WrappedDataKey) -> bytes:
    cached = cache.get(wrapped)
    if cached is not None:
        return cached
    kek = keyring.key(wrapped.kek_version)  # VaultKeyUnknown if that KEK is not configured
    associated = aead.data_key_ad(wrapped.tenant, wrapped.version, wrapped.kek_version)
    try:
        key = aead.decrypt(kek, wrapped.wrapped_key, associated)
    except aead.AuthenticationFailed:
        logger.warning(
            "data key %s of tenant %s does not unwrap with KEK %s",
            wrapped.version,
            wrapped.tenant,
            wrapped.kek_version,
        )
        raise VaultDecryptionFailed(
            f"data key {wrapped.version} of tenant {wrapped.tenant!r} does not unwrap with KEK "
            f"{wrapped.kek_version!r}: the configured key differs from the one that wrapped it, "
            "or the stored row was altered",
            {"tenant": wrapped.tenant, "kek_version": wrapped.kek_version},
        ) from None
    cache.put(wrapped, key)
    return key


def _insert_data_key(
    conn: psycopg.Connection[Any], keyring: KeyRing, tenant: str, version: int
) -> bool:
    """True if this call created the version; False if another transaction had (or just did)."""
    row = wrap_data_key(keyring, tenant, version, aead.new_key())
    inserted = conn.execute(
        "INSERT INTO vault_data_keys (tenant_id, version, kek_version, wrapped_key)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, version) DO NOTHING RETURNING version",
        (tenant, version, row.kek_version, row.wrapped_key),
    ).fetchone()
    if inserted is not None:
        logger.info(
            "created data key %s of tenant %s, wrapped by KEK %s",
            version,
            tenant,
            row.kek_version,
        )
    return inserted is not None


def current_data_key(
    conn: psycopg.Connection[Any], keyring: KeyRing, cache: DataKeyCache, tenant: str
) -> tuple[int, bytes]:
    """The tenant's newest data key (version, key), created as version 1 on first use.

    Concurrent first uses race on the primary key: ON CONFLICT DO NOTHING waits for the winner
    to commit, and the second SELECT (a new statement, READ COMMITTED) sees the winner's key,
    so every writer ends up with the one key that is stored.
    """
    query = (
        "SELECT version, kek_version, wrapped_key FROM vault_data_keys WHERE tenant_id = %s"
        " ORDER BY version DESC LIMIT 1"
    )
    row = conn.execute(query, (tenant,)).fetchone()
    if row is None:
        _insert_data_key(conn, keyring, tenant, 1)
        row = conn.execute(query, (tenant,)).fetchone()
        assert row is not None, "a data key was just inserted or committed by another writer"
    version, kek_version, wrapped_key = row
    return version, unwrap_data_key(
        keyring, cache, WrappedDataKey(tenant, version, kek_version, bytes(wrapped_key))
    )


def add_data_key_version(conn: psycopg.Connection[Any], keyring: KeyRing, tenant: str) -> int:
    """A new data key above the newest one; returns its version. Two concurrent rotations
    each get a version of their own (the loser of a primary-key race takes the next one)."""
    while True:
        (newest,) = conn.execute(
            "SELECT coalesce(max(version), 0) FROM vault_data_keys WHERE tenant_id = %s",
            (tenant,),
        ).fetchone() or (0,)
        if _insert_data_key(conn, keyring, tenant, int(newest) + 1):
            return int(newest) + 1


class StoredSubjectKey(NamedTuple):
    key_id: str
    kek_version: str
    wrapped_key: bytes


def unwrap_subject_key(
    keyring: KeyRing, tenant: str, subject_id: str, stored: StoredSubjectKey
) -> bytes:
    kek = keyring.key(stored.kek_version)  # VaultKeyUnknown if that KEK is not configured
    associated = aead.subject_key_ad(tenant, subject_id, stored.key_id, stored.kek_version)
    try:
        return aead.decrypt(kek, stored.wrapped_key, associated)
    except aead.AuthenticationFailed:
        logger.warning(
            "a subject key of tenant %s does not unwrap with KEK %s", tenant, stored.kek_version
        )
        raise VaultDecryptionFailed(
            f"a personal-data key of tenant {tenant!r} does not unwrap with KEK "
            f"{stored.kek_version!r}: the configured key differs from the one that wrapped it, "
            "or the stored row was altered",
            {"tenant": tenant, "kek_version": stored.kek_version},
        ) from None


def wrap_subject_key(
    keyring: KeyRing, tenant: str, subject_id: str, key_id: str, key: bytes
) -> StoredSubjectKey:
    kek_version = keyring.current_version
    associated = aead.subject_key_ad(tenant, subject_id, key_id, kek_version)
    return StoredSubjectKey(key_id, kek_version, aead.encrypt(keyring.current_key, key, associated))


def find_subject_key(
    conn: psycopg.Connection[Any], tenant: str, subject_id: str
) -> StoredSubjectKey | None:
    row = conn.execute(
        "SELECT key_id, kek_version, wrapped_key FROM vault_subject_keys"
        " WHERE tenant_id = %s AND subject_id = %s",
        (tenant, subject_id),
    ).fetchone()
    if row is None:
        return None
    key_id, kek_version, wrapped = row
    return StoredSubjectKey(key_id, kek_version, bytes(wrapped))


def subject_key_for_sealing(
    conn: psycopg.Connection[Any], keyring: KeyRing, tenant: str, subject_id: str
) -> tuple[str, bytes]:
    """The subject's (key id, key), created on first use (race-safe like `current_data_key`).

    Never cached: `erase_subject` in another process must stop this one at once.
    """
    stored = find_subject_key(conn, tenant, subject_id)
    if stored is None:
        created = wrap_subject_key(
            keyring, tenant, subject_id, secrets.token_hex(8), aead.new_key()
        )
        conn.execute(
            "INSERT INTO vault_subject_keys"
            " (tenant_id, subject_id, key_id, kek_version, wrapped_key)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant_id, subject_id) DO NOTHING",
            (tenant, subject_id, *created),
        )
        stored = find_subject_key(conn, tenant, subject_id)
        assert stored is not None, "a subject key was just inserted or committed by another writer"
    return stored.key_id, unwrap_subject_key(keyring, tenant, subject_id, stored)
