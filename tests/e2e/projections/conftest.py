"""The `cairn` API with the directory routes and every projector running beside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from api.routes import directory
from commands.settings import CairnSettings
from entrypoints.projector_cli import projection_settings
from projections.engine import projector_registry
from projections.engine.projector_host import ProjectorHost
from tests.support.in_process import Cairn


@pytest.fixture
def directory_cairn(cairn: Cairn, cairn_settings: CairnSettings) -> Iterator[Cairn]:
    app = cairn.client.app
    assert isinstance(app, FastAPI)
    # Until api/app.py includes the router itself.
    if not any(getattr(route, "path", "") == "/v1/security-events" for route in app.routes):
        app.include_router(directory.router)
    settings = projection_settings(cairn_settings)
    with ProjectorHost(settings, list(projector_registry.PROJECTORS.values())):
        yield cairn
