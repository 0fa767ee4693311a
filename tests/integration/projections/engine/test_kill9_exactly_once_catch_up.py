"""The kill -9 scenario (../kill9.py) with catch-up worker processes: the projector starts
them whenever 2,000 events behind (the backlog, every restart after a longer kill); they die
with it, and their batches are committed by it. Apart from test_kill9_exactly_once.py so that
the suite's two test processes can run the two long tests at once.

Smaller than issue #5's 20 kills over 20,000 events, which test_kill9_exactly_once.py proves
at full scale: what this file adds is the catch-up processes, and 6 kills over 8,000 events
exercise them as well (the first worker starts 6,000 events behind, three times the 2,000
that start catch-up processes; most kills come while they run) at under a third of the
cost (at full scale this test took 185 s of the suite's 930 s)."""

from __future__ import annotations

import pytest

from tests.integration.projections.kill9 import Scale, Scene, kill9_at_random_points

pytestmark = pytest.mark.integration

PROCESSES = {"CAIRN_PROJECTOR_PROCESSES": "2", "CAIRN_PROJECTOR_CATCH_UP_AFTER": "2000"}
SCALE = Scale(backlog=6_000, live=2_000, kills=6)


# Six kills, the first ones taking catch-up processes down with them, then a rebuild to compare.
@pytest.mark.long(60)
@pytest.mark.timeout(900)
def test_kill9_with_catch_up_processes_loses_and_doubles_nothing(kill9_scene: Scene) -> None:
    kill9_at_random_points(PROCESSES, kill9_scene, SCALE)
