"""A Cairn API on the real stack, with its own stream, database and Redis prefix per test,
and software authenticators standing in for people's phones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ServiceUrls
from commands.settings import CairnSettings
from entrypoints.projector_cli import projection_settings
from infra.stack.launcher import StackEndpoints
from projections.engine import projector_registry
from projections.engine.projector_host import ProjectorHost
from tests.support.cairn_settings import isolated_settings
from tests.support.in_process import Cairn
from tests.support.provider_server import FakeProvider
from tests.support.workers import worker_thread


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """The person's connected services: one local fake provider for every provider name."""
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def cairn_settings(
    stack: StackEndpoints,
    migrated_database_url: str,
    unique_name: str,
    tmp_path: Path,
    provider: FakeProvider,
) -> CairnSettings:
    return isolated_settings(
        stack,
        migrated_database_url,
        unique_name,
        tmp_path,
        passkey_ttl_s=5,  # short enough to test expiry, long enough for a loaded machine
        provider_urls={name: provider.base_url for name in ("google", "bank", "local")},
    )


@pytest.fixture
def cairn(cairn_settings: CairnSettings) -> Iterator[Cairn]:
    """The API with its projectors running beside it, as `cairn up` runs them (queries such
    as `GET /v1/runs/{id}` answer from their views)."""
    s = cairn_settings
    urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    projectors = ProjectorHost(projection_settings(s), list(projector_registry.PROJECTORS.values()))
    with TestClient(create_app(urls, settings=s)) as client, projectors:
        cairn = Cairn(client)
        with worker_thread(s, cairn.services) as worker:
            cairn.worker = worker
            yield cairn
