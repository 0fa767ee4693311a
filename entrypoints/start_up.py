"""What a long-running Cairn process does once it has started: its start-up objects are
frozen and its young generation is collected less often (decision 0070).

Each collection of the oldest generation walks every object the process holds; a process
that imported FastAPI, pydantic and the app holds ~250,000 of them, and under load the API
collected them every ~12 s, holding the interpreter lock ~150 ms each time. Frozen objects
are never walked again. A request or a run makes many short-lived objects, so the young
generation is collected every 10,000 allocations (CPython: 700).
"""

from __future__ import annotations

import gc

# The projector processes' setting (projections/engine/tuning.py), one number for all.
from projections.engine.tuning import YOUNG_COLLECTION_EVERY


def freeze_start_up() -> None:
    """Collect once, freeze what survives, and collect the young generation less often.
    For a process's entry point only: in a test process it would keep every test's garbage."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
