"""Read-your-writes at the query layer: wait for a position, bounded, then a clear 409 error."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from projections.engine.errors import ProjectionBehind, ProjectionNotBuilt
from projections.engine.projector_host import ProjectorHost
from projections.engine.view_reads import wait_for
from projections.settings import ProjectionSettings
from projections.views.directory.queries import list_security_events, list_users
from projections.views.directory.security_events import SecurityEvents
from tests.integration.projections.support import Generator, admin_reader

pytestmark = pytest.mark.integration


def test_a_view_never_built_is_not_found_or_behind(pool: ConnectionPool[Any]) -> None:
    with pytest.raises(ProjectionNotBuilt) as not_built:
        list_users(pool, admin_reader(uuid.uuid4()))
    assert not_built.value.code == "projection_not_built"
    with pytest.raises(ProjectionBehind):
        list_users(pool, admin_reader(uuid.uuid4()), after=1)


def test_wait_for_returns_once_reached_and_is_bounded_otherwise(
    store: Application[uuid.UUID], settings: ProjectionSettings, pool: ConnectionPool[Any]
) -> None:
    generator = Generator(store)
    with ProjectorHost(settings, [SecurityEvents]):
        for _ in range(5):
            position = generator.batch(50)
            assert wait_for(pool, "security_events", position) >= position
            page = list_security_events(
                pool, admin_reader(generator.tenants[0]), after=position, limit=3
            )
            assert page.position is not None and page.position >= position
        began = time.monotonic()
        with pytest.raises(ProjectionBehind) as behind:
            list_security_events(pool, admin_reader(generator.tenants[0]), after=position + 10_000)
        took = time.monotonic() - began
    assert 1.9 < took < 4.0  # the default bound is 2 s (plus a loaded machine)
    error = behind.value
    assert error.code == "projection_behind"
    assert error.details == {
        "projection": "security_events",
        "position": position + 10_000,
        "reached": position,
    }
    assert "has not reached position" in error.message
