"""Refused before any I/O: the pool below is never opened, so a query would fail loudly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.vault import KeyRing, PostgresVault, VaultInvalidInput

pytestmark = pytest.mark.unit


@pytest.fixture
def vault() -> Iterator[PostgresVault]:
    pool: ConnectionPool[Any] = ConnectionPool("postgresql://nowhere.invalid/x", open=False)
    yield PostgresVault(pool, KeyRing.generate())


@pytest.mark.parametrize(
    ("tenant", "record_id"),
    [("", "r"), (" ", "r"), ("t", ""), ("t", "x" * 201), ("t", "a\x00b"), ("t", "line\nbreak")],
)
def test_invalid_identifiers_are_refused(vault: PostgresVault, tenant: str, record_id: str) -> None:
    for attempt in (
        lambda: vault.put_secret(tenant, record_id, b"x"),
        lambda: vault.get_secret(tenant, record_id),
        lambda: vault.delete_secret(tenant, record_id),
        lambda: vault.seal_personal(tenant, record_id, "field", "x"),
        lambda: vault.erase_subject(tenant, record_id),
    ):
        with pytest.raises(VaultInvalidInput) as caught:
            attempt()
        assert caught.value.code == "vault_invalid_input"


def test_values_are_checked_before_any_query(vault: PostgresVault) -> None:
    with pytest.raises(VaultInvalidInput, match="bytes, not str"):
        vault.put_secret("t", "r", "sk-text")  # type: ignore[arg-type]
    with pytest.raises(VaultInvalidInput, match="the vault stores at most 65536"):
        vault.put_secret("t", "r", b"x" * 65537)
    with pytest.raises(VaultInvalidInput) as caught:
        vault.seal_personal("t", "user-1", "name", "lone \ud800 surrogate")
    assert "\ud800" not in caught.value.message and caught.value.__cause__ is None
    with pytest.raises(VaultInvalidInput, match="str, not bytes"):
        vault.seal_personal("t", "user-1", "name", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(VaultInvalidInput, match="not a personal-field token"):
        vault.open_personal("t", "ada@example.com", "email")
    with pytest.raises(VaultInvalidInput, match="subject_id must not contain control"):
        vault.open_personal("t", "pii:v1:a\x00b:0123456789abcdef:AAAA", "email")
    assert "nowhere" not in repr(vault)  # and a repr shows no pool internals or keys
