"""The API as a client meets it (a server error is an answer, 500, not an exception), with
its projectors and a run worker beside it, as `cairn up` runs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ServiceUrls
from commands.settings import CairnSettings
from entrypoints.projector_cli import projection_settings
from projections.engine import projector_registry
from projections.engine.projector_host import ProjectorHost
from tests.support.in_process import Cairn
from tests.support.workers import worker_thread


@pytest.fixture
def served(cairn_settings: CairnSettings) -> Iterator[Cairn]:
    s = cairn_settings
    urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    app = create_app(urls, settings=s)
    projectors = ProjectorHost(projection_settings(s), list(projector_registry.PROJECTORS.values()))
    with TestClient(app, raise_server_exceptions=False) as client, projectors:
        cairn = Cairn(client)
        with worker_thread(s, cairn.services) as worker:
            cairn.worker = worker
            yield cairn
