"""`sealed_secrets`: the secrets of a prefix in one read, each decrypted only when opened, and
opened (or refused) exactly as `get_secret` would (decision 0046)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
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
)
from commands.ports.vault import Vault
from tests.integration.adapters.vault.conftest import VaultFactory

pytestmark = pytest.mark.integration

TENANT, OTHER = "tenant-a", "tenant-b"
MARKER = b"sk-SEALED-MARKER-5d1f"


class CountingPool:
    """The pool, counting checkouts: each vault transaction takes one connection."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool
        self.checkouts = 0

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        self.checkouts += 1
        with self.pool.connection() as conn:
            yield conn


def _execute(url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, params)


def test_the_secrets_of_a_prefix_are_read_in_one_transaction_and_open_like_get_secret(
    pool: ConnectionPool[Any], keyring: KeyRing
) -> None:
    writer = PostgresVault(pool, keyring)
    writer.put_secret(TENANT, "llm-key:openai", b"sk-a")
    writer.put_secret(TENANT, "llm-key:gemini", b"sk-b")
    writer.put_secret(TENANT, "llm_key:literal", b"sk-c")  # `_` is no wildcard here
    writer.put_secret(TENANT, "oauth:google", b"token")
    writer.put_secret(OTHER, "llm-key:anthropic", b"sk-of-b")
    counting = CountingPool(pool)
    vault = PostgresVault(counting, keyring)  # type: ignore[arg-type]
    port: Vault = vault
    sealed = port.sealed_secrets(TENANT, "llm-key:")
    opened = {record_id: secret.open() for record_id, secret in sealed.items()}
    assert counting.checkouts == 1
    assert opened == {"llm-key:openai": b"sk-a", "llm-key:gemini": b"sk-b"}
    assert set(sealed) == vault.secret_ids(TENANT, "llm-key:")
    assert {k: s.open() for k, s in vault.sealed_secrets(OTHER, "llm-key:").items()} == {
        "llm-key:anthropic": b"sk-of-b"
    }
    assert vault.sealed_secrets(TENANT, "none:") == {}
    with pytest.raises(VaultInvalidInput):
        vault.sealed_secrets("", "llm-key:")


def test_nothing_is_decrypted_until_a_secret_is_opened(
    vault: PostgresVault, make_vault: VaultFactory, migrated_database_url: str
) -> None:
    vault.put_secret(TENANT, "llm-key:openai", b"sk-openai")
    vault.put_secret(TENANT, "llm-key:anthropic", b"sk-anthropic")
    # Read by a process without the KEK that wrapped the data key: listed, not opened.
    stranger = make_vault(KeyRing.generate("v2"))
    sealed = stranger.sealed_secrets(TENANT, "llm-key:")
    assert set(sealed) == {"llm-key:openai", "llm-key:anthropic"}
    with pytest.raises(VaultKeyUnknown):
        sealed["llm-key:openai"].open()
    # A ciphertext copied onto another record is read, and refused when opened.
    _execute(
        migrated_database_url,
        "UPDATE vault_secrets SET ciphertext = (SELECT ciphertext FROM vault_secrets"
        " WHERE tenant_id = %s AND record_id = 'llm-key:openai')"
        " WHERE record_id = 'llm-key:anthropic'",
        (TENANT,),
    )
    sealed = vault.sealed_secrets(TENANT, "llm-key:")
    with pytest.raises(VaultDecryptionFailed, match="copied from another record or tenant"):
        sealed["llm-key:anthropic"].open()
    assert sealed["llm-key:openai"].open() == b"sk-openai"


def test_a_sealed_secret_shows_no_plaintext_or_ciphertext(
    vault: PostgresVault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.put_secret(TENANT, "llm-key:openai", MARKER)
    sealed = vault.sealed_secrets(TENANT, "llm-key:")
    shown = repr(sealed) + str(sealed) + caplog.text
    assert "llm-key:openai" in shown
    assert MARKER.decode() not in shown and MARKER.hex() not in shown
    assert "ciphertext" not in shown and "\\x" not in shown
    assert sealed["llm-key:openai"].open() == MARKER
    assert MARKER.decode() not in caplog.text


def test_row_level_security_keeps_the_read_to_its_tenant(
    keyring: KeyRing, pool: ConnectionPool[Any], migrated_database_url: str, unique_name: str
) -> None:
    """Through a role that row-level security binds (no owner, no superuser): the statement
    reads the tenant's secrets and data keys, and nothing of another tenant."""
    owner = PostgresVault(pool, keyring)
    owner.put_secret(TENANT, "llm-key:openai", b"sk-of-a")
    owner.put_secret(OTHER, "llm-key:openai", b"sk-of-b")
    role = f"{unique_name}_vault"
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        conn.execute(f'GRANT SELECT ON vault_secrets, vault_data_keys TO "{role}"')
    try:
        options = {"options": f"-c role={role}"}
        with ConnectionPool(migrated_database_url, kwargs=options, min_size=1, open=True) as bound:
            vault = PostgresVault(bound, keyring)
            sealed = vault.sealed_secrets(TENANT, "llm-key:")
            assert {k: s.open() for k, s in sealed.items()} == {"llm-key:openai": b"sk-of-a"}
            with bound.connection() as conn:
                # The tenant set for another: the statement's own rows stay invisible.
                conn.execute("SELECT set_config('cairn.tenant_id', %s, false)", (OTHER,))
                seen = conn.execute(
                    "SELECT count(*) FROM vault_secrets WHERE tenant_id = %s", (TENANT,)
                ).fetchone()
                conn.execute("RESET cairn.tenant_id")
            assert seen == (0,)
    finally:
        with psycopg.connect(migrated_database_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
