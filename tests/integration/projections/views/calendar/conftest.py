from __future__ import annotations

from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.vault import KeyRing, PostgresVault


@pytest.fixture
def vault(pool: ConnectionPool[Any]) -> PostgresVault:
    return PostgresVault(pool, KeyRing.generate("v1"))
