"""Run tests read runs through the runs view (`GET /v1/runs/{id}` answers from it), so their
Cairn has its projectors running beside the API, as `cairn up` does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clients.projector_cli import projection_settings
from commands.settings import CairnSettings
from projections import registry
from projections.host import ProjectorHost
from tests.support.cairn_client import Cairn


@pytest.fixture
def cairn(cairn: Cairn, cairn_settings: CairnSettings) -> Iterator[Cairn]:
    with ProjectorHost(projection_settings(cairn_settings), list(registry.PROJECTORS.values())):
        yield cairn
