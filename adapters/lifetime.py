"""A process's lifetime tied to its parent's: the Linux parent-death signal.

The one place the `prctl(PR_SET_PDEATHSIG)` call lives (decision 0014): the local stack's
servers, the worker processes `cairn up` keeps alive and the projectors' catch-up processes
all use it, so that a parent killed with SIGKILL leaves no orphan behind. Standard library
only, so that every layer that starts processes may import it.
"""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals) -> None:
    """Have the kernel send `sig` to this process when the thread that forked it ends.

    Call it in the child: as a `subprocess.Popen` `preexec_fn` (between fork and exec, after
    any setuid) or first thing in a `multiprocessing` target. Linux ties the signal to the
    forking *thread*, not the process: fork from a thread that lives as long as the parent.
    Elsewhere than on Linux it does nothing.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))
