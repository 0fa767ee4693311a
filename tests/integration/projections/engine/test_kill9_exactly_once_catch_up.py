"""The kill -9 scenario (../kill9.py) with catch-up worker processes: the projector starts
them whenever 2,000 events behind (the backlog, every restart after a longer kill); they die
with it, and their batches are committed by it. Apart from test_kill9_exactly_once.py so that
the suite's two test processes can run the two long tests at once."""

from __future__ import annotations

import pytest

from tests.integration.projections.kill9 import Scene, kill9_at_20_random_points

pytestmark = pytest.mark.integration

PROCESSES = {"CAIRN_PROJECTOR_PROCESSES": "2", "CAIRN_PROJECTOR_CATCH_UP_AFTER": "2000"}


# Twenty kills, each taking catch-up processes down with it, then a rebuild to compare.
@pytest.mark.long(185)
@pytest.mark.timeout(900)
def test_kill9_with_catch_up_processes_loses_and_doubles_nothing(kill9_scene: Scene) -> None:
    kill9_at_20_random_points(PROCESSES, kill9_scene)
