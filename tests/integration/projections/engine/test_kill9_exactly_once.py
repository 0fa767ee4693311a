"""`kill -9` a projector worker (`cairn projector run all`, every view in its one process) at
20 random points while it projects 20,000 events, some already stored and some arriving: the
views then equal a rebuild from zero, row for row (the scenario: ../kill9.py): issue #5's
must-show, at its scale. With catch-up worker processes: test_kill9_exactly_once_catch_up.py,
a file of its own so that the two long tests can run in the suite's two test processes at
once."""

from __future__ import annotations

import pytest

from tests.integration.projections.kill9 import ISSUE_5, Scene, kill9_at_random_points

pytestmark = pytest.mark.integration

PROCESSES = {"CAIRN_PROJECTOR_PROCESSES": "0"}


# Twenty kills of a worker running every view (five), then a rebuild to compare: over the
# default 300 s on a busy 2-core machine.
@pytest.mark.long(146)
@pytest.mark.timeout(900)
def test_kill9_at_20_random_points_loses_and_doubles_nothing(kill9_scene: Scene) -> None:
    kill9_at_random_points(PROCESSES, kill9_scene, ISSUE_5)
