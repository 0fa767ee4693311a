"""A long-running process's lifetime: tied to its parent's, and its start-up objects frozen.

- The one place the `prctl(PR_SET_PDEATHSIG)` call lives (decision 0014): the local stack's
  servers, the worker processes `cairn up` keeps alive and the projectors' catch-up processes
  all use it, so that a parent killed with SIGKILL leaves no orphan behind.
- `freeze_start_up` (decisions 0070 and, for the projectors, docs/benchmarks/projections.md):
  each collection of the oldest generation walks every object the process holds; a process
  that imported FastAPI, pydantic and the app holds ~250,000 of them, and under load the API
  collected them every ~12 s, holding the interpreter lock ~150 ms each time. Frozen objects
  are never walked again. A request, a run or a decoded event makes many short-lived
  objects, so the young generation is collected every 10,000 allocations (CPython: 700).

Standard library only, so that every layer that starts processes may import it.
"""

from __future__ import annotations

import ctypes
import gc
import signal
import sys

_PR_SET_PDEATHSIG = 1

YOUNG_COLLECTION_EVERY = 10_000  # allocations (CPython's default: 700)


def freeze_start_up() -> None:
    """Collect once, freeze what survives, and collect the young generation less often.
    For a process's entry point only: in a test process it would keep every test's garbage."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


def die_with_parent(sig: signal.Signals) -> None:
    """Have the kernel send `sig` to this process when the thread that forked it ends.

    Call it in the child: as a `subprocess.Popen` `preexec_fn` (between fork and exec, after
    any setuid) or first thing in a `multiprocessing` target. Linux ties the signal to the
    forking *thread*, not the process: fork from a thread that lives as long as the parent.
    Elsewhere than on Linux it does nothing.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))
