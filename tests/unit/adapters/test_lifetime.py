"""A process's start-up objects are frozen once it has started (decision 0070): checked in a
child interpreter, because freezing this test process would keep every later test's garbage."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adapters.lifetime import YOUNG_COLLECTION_EVERY

pytestmark = pytest.mark.unit

AFTER_START_UP = """
import gc, json
import api.app  # what an API process imports before it serves
before = gc.get_threshold()
from adapters.lifetime import freeze_start_up
freeze_start_up()
left = gc.get_objects(generation=2)  # frozen objects are in no generation
print(json.dumps({"frozen": gc.get_freeze_count(), "left": len(left),
                  "before": before, "after": gc.get_threshold()}))
"""


def test_start_up_objects_are_frozen_and_the_young_generation_collected_less_often() -> None:
    done = subprocess.run(
        [sys.executable, "-c", AFTER_START_UP], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert state["frozen"] > 50_000  # the app's imports: never walked by a collection again
    assert state["left"] < state["frozen"] // 100
    assert state["after"] == [YOUNG_COLLECTION_EVERY, *state["before"][1:]]
