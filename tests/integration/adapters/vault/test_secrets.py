from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from adapters.vault import (
    KeyRing,
    PostgresVault,
    VaultDecryptionFailed,
    VaultInvalidInput,
    VaultKeyUnknown,
    VaultSecretNotFound,
    VaultUnavailable,
)
from commands.ports.vault import Secret, SecretRef, Vault
from infra.stack.ports import free_port
from tests.integration.adapters.vault.conftest import VaultFactory

pytestmark = pytest.mark.integration

TENANT, OTHER = "tenant-a", "tenant-b"


def _execute(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """As the owner (RLS bypassed): what an attacker with database access could do."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def test_satisfies_the_port(vault: PostgresVault) -> None:
    port: Vault = vault
    assert port is vault


def test_round_trip_replace_and_delete(vault: PostgresVault) -> None:
    ref = vault.put_secret(TENANT, "openai", b"sk-first")
    assert ref == SecretRef(TENANT, "openai", 1)
    assert vault.get_secret(TENANT, "openai") == b"sk-first"
    vault.put_secret(TENANT, "openai", Secret(b"sk-second"))
    assert vault.get_secret(TENANT, "openai") == b"sk-second"
    vault.put_secret(TENANT, "empty", b"")
    assert vault.get_secret(TENANT, "empty") == b""
    assert vault.delete_secret(TENANT, "openai") is True
    assert vault.delete_secret(TENANT, "openai") is False
    with pytest.raises(VaultSecretNotFound) as caught:
        vault.get_secret(TENANT, "openai")
    assert caught.value.code == "vault_secret_not_found"


def test_secret_ids_name_the_tenants_own_records_with_the_prefix(vault: PostgresVault) -> None:
    vault.put_secret(TENANT, "llm-key:openai", b"sk-a")
    vault.put_secret(TENANT, "llm-key:gemini", b"sk-b")
    vault.put_secret(TENANT, "llm_key:literal", b"sk-c")  # `_` is no wildcard here
    vault.put_secret(TENANT, "oauth:google", b"token")
    vault.put_secret(OTHER, "llm-key:anthropic", b"sk-of-b")
    assert vault.secret_ids(TENANT, "llm-key:") == {"llm-key:openai", "llm-key:gemini"}
    assert vault.secret_ids(OTHER, "llm-key:") == {"llm-key:anthropic"}
    assert vault.secret_ids(TENANT, "none:") == frozenset()
    vault.delete_secret(TENANT, "llm-key:gemini")
    assert vault.secret_ids(TENANT, "llm-key:") == {"llm-key:openai"}


def test_tenants_are_isolated(vault: PostgresVault, migrated_database_url: str) -> None:
    vault.put_secret(TENANT, "openai", b"sk-of-a")
    vault.put_secret(OTHER, "openai", b"sk-of-b")
    assert vault.get_secret(TENANT, "openai") == b"sk-of-a"
    assert vault.get_secret(OTHER, "openai") == b"sk-of-b"
    assert vault.delete_secret(OTHER, "openai")
    assert vault.get_secret(TENANT, "openai") == b"sk-of-a"
    keys = _execute(migrated_database_url, "SELECT tenant_id, version FROM vault_data_keys")
    assert sorted(keys) == [(TENANT, 1), (OTHER, 1)]  # a data key per tenant


def test_ciphertext_copied_to_another_record_fails(
    vault: PostgresVault, migrated_database_url: str
) -> None:
    vault.put_secret(TENANT, "openai", b"sk-openai")
    vault.put_secret(TENANT, "anthropic", b"sk-anthropic")
    _execute(
        migrated_database_url,
        "UPDATE vault_secrets SET ciphertext = (SELECT ciphertext FROM vault_secrets"
        " WHERE tenant_id = %s AND record_id = 'openai') WHERE record_id = 'anthropic'",
        (TENANT,),
    )
    with pytest.raises(VaultDecryptionFailed) as caught:
        vault.get_secret(TENANT, "anthropic")
    assert caught.value.code == "vault_decryption_failed"
    assert "copied from another record or tenant" in caught.value.message
    assert vault.get_secret(TENANT, "openai") == b"sk-openai"


def test_row_copied_to_another_tenant_fails(
    vault: PostgresVault, migrated_database_url: str
) -> None:
    vault.put_secret(TENANT, "openai", b"sk-of-a")
    vault.put_secret(OTHER, "unrelated", b"x")  # tenant-b has a data key version 1 too
    # Move both the secret and tenant-a's wrapped data key: still bound to tenant-a.
    _execute(
        migrated_database_url,
        "INSERT INTO vault_secrets (tenant_id, record_id, data_key_version, ciphertext)"
        " SELECT %s, record_id, data_key_version, ciphertext FROM vault_secrets"
        " WHERE tenant_id = %s AND record_id = 'openai'",
        (OTHER, TENANT),
    )
    with pytest.raises(VaultDecryptionFailed, match="secret 'openai' of tenant 'tenant-b'"):
        vault.get_secret(OTHER, "openai")
    _execute(
        migrated_database_url,
        "UPDATE vault_data_keys SET wrapped_key = (SELECT wrapped_key FROM vault_data_keys"
        " WHERE tenant_id = %s AND version = 1) WHERE tenant_id = %s",
        (TENANT, OTHER),
    )
    fresh = PostgresVault(vault.pool, vault.keyring)  # no cached keys
    with pytest.raises(VaultDecryptionFailed, match="data key 1 of tenant 'tenant-b'"):
        fresh.get_secret(OTHER, "openai")


def test_tampered_ciphertext_fails(vault: PostgresVault, migrated_database_url: str) -> None:
    vault.put_secret(TENANT, "openai", b"sk-openai")
    _execute(
        migrated_database_url,
        "UPDATE vault_secrets SET ciphertext = set_byte(ciphertext, 30, get_byte(ciphertext, 30)"
        " # 1)",
    )
    with pytest.raises(VaultDecryptionFailed):
        vault.get_secret(TENANT, "openai")


def test_wrong_or_missing_kek_is_a_clear_error(
    vault: PostgresVault, make_vault: VaultFactory
) -> None:
    vault.put_secret(TENANT, "openai", b"sk-openai")
    impostor = make_vault(KeyRing.generate("v1"))  # same version name, other key
    with pytest.raises(VaultDecryptionFailed, match="does not unwrap with KEK 'v1'"):
        impostor.get_secret(TENANT, "openai")
    missing = make_vault(KeyRing.generate("v2"))
    with pytest.raises(VaultKeyUnknown, match="'v1' is not configured in CAIRN_VAULT_KEKS") as e:
        missing.get_secret(TENANT, "openai")
    assert e.value.code == "vault_key_unknown"


def test_concurrent_first_use_creates_exactly_one_data_key(
    make_vault: VaultFactory, keyring: KeyRing, migrated_database_url: str
) -> None:
    # Every thread is its own process's vault (own cache) racing to create the first key.
    vaults = [make_vault(keyring) for _ in range(8)]
    barrier = threading.Barrier(len(vaults))
    errors: list[BaseException] = []

    def work(index: int, vault: PostgresVault) -> None:
        try:
            barrier.wait()
            for round_ in range(5):
                vault.put_secret(TENANT, f"r{index}-{round_}", f"v{index}-{round_}".encode())
                assert vault.get_secret(TENANT, f"r{index}-{round_}") == (
                    f"v{index}-{round_}".encode()
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=pair) for pair in enumerate(vaults)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = _execute(migrated_database_url, "SELECT tenant_id, version FROM vault_data_keys")
    assert keys == [(TENANT, 1)]
    reader = make_vault(keyring)
    for index in range(len(vaults)):
        assert reader.get_secret(TENANT, f"r{index}-4") == f"v{index}-4".encode()


def test_values_must_be_bytes_and_bounded(pool: ConnectionPool[Any], keyring: KeyRing) -> None:
    small = PostgresVault(pool, keyring, max_value_bytes=16)
    small.put_secret(TENANT, "ok", b"x" * 16)
    with pytest.raises(VaultInvalidInput, match="17 bytes; the vault stores at most 16"):
        small.put_secret(TENANT, "big", b"x" * 17)
    with pytest.raises(VaultInvalidInput, match="bytes, not str"):
        small.put_secret(TENANT, "text", "sk-text")  # type: ignore[arg-type]


def test_database_down_is_unavailable(keyring: KeyRing) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=1"
    with ConnectionPool(url, min_size=0, max_size=1, timeout=0.5, open=True) as dead:
        vault = PostgresVault(dead, keyring)
        with pytest.raises(VaultUnavailable) as caught:
            vault.put_secret(TENANT, "openai", b"sk-openai")
    assert caught.value.code == "vault_unavailable"
