from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.vault import (
    KeyRing,
    PostgresVault,
    VaultDecryptionFailed,
)
from commands.ports.vault import ERASED, Erased, is_personal_token
from tests.integration.adapters.vault.conftest import VaultFactory

pytestmark = pytest.mark.integration

TENANT, OTHER = "tenant-a", "tenant-b"


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def test_seal_and_open(vault: PostgresVault) -> None:
    token = vault.seal_personal(TENANT, "user-1", "email", "ada@example.com")
    # The whole value, not a fragment: a short fragment like "ada" can occur in random hex.
    assert is_personal_token(token) and "ada@example.com" not in token
    assert "@example.com" not in token
    assert token.startswith("pii:v1:user-1:")
    assert vault.open_personal(TENANT, token, "email") == "ada@example.com"
    again = vault.seal_personal(TENANT, "user-1", "email", "ada@example.com")
    assert again != token  # fresh nonce every time: equal values are not linkable
    assert vault.open_personal(TENANT, again, "email") == "ada@example.com"


def test_a_token_opens_only_for_its_field_tenant_and_exact_bytes(vault: PostgresVault) -> None:
    token = vault.seal_personal(TENANT, "user-1", "email", "ada@example.com")
    vault.seal_personal(OTHER, "user-1", "email", "someone else")  # user-1 exists in B too
    with pytest.raises(VaultDecryptionFailed, match="sealed for another field"):
        vault.open_personal(TENANT, token, "name")
    with pytest.raises(VaultDecryptionFailed, match="sealed in another tenant") as caught:
        vault.open_personal(OTHER, token, "email")
    assert caught.value.code == "vault_decryption_failed"
    with pytest.raises(VaultDecryptionFailed):
        vault.open_personal("tenant-c", token, "email")
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
    with pytest.raises(VaultDecryptionFailed):
        vault.open_personal(TENANT, tampered, "email")
    moved = token.replace("pii:v1:user-1:", "pii:v1:user-2:")  # claim another subject
    vault.seal_personal(TENANT, "user-2", "email", "x")
    with pytest.raises(VaultDecryptionFailed):
        vault.open_personal(TENANT, moved, "email")


def test_erasure_shreds_one_subject_and_leaves_the_others(
    vault: PostgresVault, make_vault: VaultFactory, keyring: KeyRing, migrated_database_url: str
) -> None:
    other_process = make_vault(keyring)
    ada = vault.seal_personal(TENANT, "user-1", "email", "ada@example.com")
    ada_name = vault.seal_personal(TENANT, "user-1", "name", "Ada Lovelace")
    bob = vault.seal_personal(TENANT, "user-2", "email", "bob@example.com")
    ada_in_b = vault.seal_personal(OTHER, "user-1", "email", "ada@b.example")
    assert other_process.open_personal(TENANT, ada, "email") == "ada@example.com"

    assert vault.erase_subject(TENANT, "user-1") is True
    for token, field in ((ada, "email"), (ada_name, "name")):
        opened = other_process.open_personal(TENANT, token, field)  # at once, everywhere
        assert opened is ERASED and isinstance(opened, Erased) and opened == "[erased]"
    assert vault.open_personal(TENANT, bob, "email") == "bob@example.com"
    assert vault.open_personal(OTHER, ada_in_b, "email") == "ada@b.example"
    assert vault.erase_subject(TENANT, "user-1") is False  # idempotent
    assert vault.erase_subject(TENANT, "never-sealed") is False

    # The key is gone from the database: the KEK alone can recover nothing.
    keys = _rows(migrated_database_url, "SELECT tenant_id, subject_id FROM vault_subject_keys")
    assert sorted(keys) == [(TENANT, "user-2"), (OTHER, "user-1")]
    with_kek = make_vault(keyring)
    assert with_kek.open_personal(TENANT, ada, "email") is ERASED


def test_concurrent_first_seals_share_one_subject_key(
    make_vault: VaultFactory, keyring: KeyRing, migrated_database_url: str
) -> None:
    vaults = [make_vault(keyring) for _ in range(8)]
    barrier = threading.Barrier(len(vaults))
    tokens: list[str] = []

    def seal(index: int, vault: PostgresVault) -> None:
        barrier.wait()
        tokens.append(vault.seal_personal(TENANT, "user-1", "name", f"name {index}"))

    threads = [threading.Thread(target=seal, args=pair) for pair in enumerate(vaults)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _rows(migrated_database_url, "SELECT count(*) FROM vault_subject_keys") == [(1,)]
    opened = {vaults[0].open_personal(TENANT, token, "name") for token in tokens}
    assert opened == {f"name {index}" for index in range(len(vaults))}


def test_a_subject_seen_again_after_erasure_gets_a_new_key(vault: PostgresVault) -> None:
    old = vault.seal_personal(TENANT, "user-1", "email", "old@example.com")
    vault.erase_subject(TENANT, "user-1")
    new = vault.seal_personal(TENANT, "user-1", "email", "new@example.com")
    assert old.split(":")[3] != new.split(":")[3]  # another key id
    assert vault.open_personal(TENANT, old, "email") is ERASED
    assert vault.open_personal(TENANT, new, "email") == "new@example.com"


def test_an_empty_value_round_trips(vault: PostgresVault) -> None:
    assert vault.open_personal(TENANT, vault.seal_personal(TENANT, "u", "f", ""), "f") == ""


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    subject=st.text(
        st.characters(blacklist_categories=("Cc", "Cs")),
        min_size=1,
        max_size=40,
    ).filter(str.strip),
    field=st.sampled_from(["email", "name", "address", "note:free text"]),
    value=st.text(max_size=200),
)
def test_any_unicode_value_round_trips(
    vault: PostgresVault, subject: str, field: str, value: str
) -> None:
    token = vault.seal_personal(TENANT, subject, field, value)
    assert vault.open_personal(TENANT, token, field) == value
