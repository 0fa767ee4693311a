"""A migrated database of its own per test, a pool on it, and vaults over that pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.vault import KeyRing, PostgresVault

VaultFactory = Callable[[KeyRing], PostgresVault]


@pytest.fixture
def pool(migrated_database_url: str) -> Iterator[ConnectionPool[Any]]:
    with ConnectionPool(migrated_database_url, min_size=1, max_size=10, open=True) as opened:
        yield opened


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing.generate("v1")


@pytest.fixture
def vault(pool: ConnectionPool[Any], keyring: KeyRing) -> PostgresVault:
    return PostgresVault(pool, keyring)


@pytest.fixture
def make_vault(pool: ConnectionPool[Any]) -> VaultFactory:
    """Another process's vault on the same database: its own key ring, an empty cache."""
    return lambda keyring: PostgresVault(pool, keyring)
