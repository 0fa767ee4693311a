"""Each command test gets a world of its own: the dispatch with every port in memory."""

from __future__ import annotations

import pytest

from tests.unit.commands.scenario import Scenario


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()
