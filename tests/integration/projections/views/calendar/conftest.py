from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.vault import KeyRing, PostgresVault
from projections.settings import ProjectionSettings


@pytest.fixture
def pool(settings: ProjectionSettings) -> Iterator[ConnectionPool[Any]]:
    with ConnectionPool(
        settings.database_url, min_size=1, open=True, kwargs={"autocommit": False}
    ) as found:
        yield found


@pytest.fixture
def vault(pool: ConnectionPool[Any]) -> PostgresVault:
    return PostgresVault(pool, KeyRing.generate("v1"))
