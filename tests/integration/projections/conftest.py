"""Projection tests on the real stack: a stream, a prefix and a migrated database of their own."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from infra.stack.launcher import StackEndpoints
from projections.engine.event_source import EventSource
from projections.settings import ProjectionSettings
from tests.integration.projections.kill9 import Scene, stop_spawned
from tests.integration.projections.support import event_store_env, projection_settings


@pytest.fixture
def database(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def store(stack: StackEndpoints, unique_name: str) -> Iterator[Application[uuid.UUID]]:
    app: Application[uuid.UUID] = Application(env=event_store_env(stack, unique_name))
    yield app
    app.close()


@pytest.fixture
def settings(stack: StackEndpoints, database: str, unique_name: str) -> ProjectionSettings:
    return projection_settings(stack, database, unique_name)


@pytest.fixture
def source(settings: ProjectionSettings) -> Iterator[EventSource]:
    found = EventSource(settings.event_store_env)
    yield found
    found.close()


@pytest.fixture
def pool(settings: ProjectionSettings) -> Iterator[ConnectionPool[Any]]:
    """A pool on the test's database, transactions not in autocommit (as the views' readers)."""
    with ConnectionPool(
        settings.database_url, min_size=1, open=True, kwargs={"autocommit": False}
    ) as found:
        yield found


@pytest.fixture
def kill9_scene(
    stack: StackEndpoints,
    database: str,
    unique_name: str,
    store: Application[uuid.UUID],
    settings: ProjectionSettings,
    source: EventSource,
    tmp_path: Path,
) -> Iterator[Scene]:
    """The kill -9 scenario's setting; no process it started outlives the test, whatever failed."""
    started: list[subprocess.Popen[bytes]] = []
    yield Scene(stack, database, unique_name, store, settings, source, tmp_path, started)
    stop_spawned(started)
