"""Interpreter settings for a projector process (`cairn projector run|rebuild`), which does
nothing else: measured on a 1,000,000-event rebuild (docs/benchmarks/projections.md).

- Garbage collector: decoding an event makes a few dozen short-lived objects, so with the
  default threshold (700 allocations) the young generation is collected every ~20 events,
  and every collection of the oldest one walks every object the process imported. The
  objects alive at start are frozen (never walked again) and young collections run every
  10,000 allocations: the process holds one batch at a time, so little garbage waits.
- Thread switch interval: a batch commits on one thread while the next is decoded on
  another (commit_pipeline), and the reads arrive on a third. Each PostgreSQL answer
  makes the committing thread wait for the interpreter lock: with the default 5 ms that
  wait is longer than PostgreSQL's own answer.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.lifetime import freeze_start_up

SWITCH_INTERVAL = 0.0005  # seconds (CPython's default: 0.005)


def settle() -> None:
    """The settings above for the rest of this process (catch-up worker processes)."""
    freeze_start_up()
    sys.setswitchinterval(SWITCH_INTERVAL)


@contextmanager
def projector_process() -> Iterator[None]:
    """The settings above while the block runs; the previous ones after it."""
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    settle()
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
