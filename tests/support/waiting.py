"""Waiting for what a test's background work does (a learner, a listening thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def eventually(found: Callable[[], Any]) -> Any:
    """What `found` gives once it gives something truthy; fails the test after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail("not within 30 s")
