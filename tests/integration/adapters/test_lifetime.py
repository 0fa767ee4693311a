"""A process started with the parent-death signal ends when its parent is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

pytestmark = pytest.mark.integration


def _child_of_a_killed_parent(preexec: str, child: list[str]) -> psutil.Process:
    """Start a parent that starts `child` (with or without the signal), then SIGKILL it."""
    script = textwrap.dedent(
        f"""
        import functools, signal, subprocess, sys, time
        from adapters.lifetime import die_with_parent
        child = subprocess.Popen({child!r}, preexec_fn={preexec}, start_new_session=True)
        print(child.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    orphan = psutil.Process(int(parent.stdout.readline()))
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    return orphan


def test_the_child_ends_when_its_parent_is_killed() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    child = _child_of_a_killed_parent("functools.partial(die_with_parent, signal.SIGTERM)", sleeper)
    child.wait(timeout=30)  # psutil.TimeoutExpired if it outlived its parent
    assert not child.is_running()


def test_without_it_the_child_outlives_its_parent() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    child = _child_of_a_killed_parent("None", sleeper)
    try:
        assert child.is_running()
        assert child.status() != psutil.STATUS_ZOMBIE
    finally:
        child.kill()
        child.wait(timeout=30)
