"""Projection lag: how many positions each projector is behind the store, and how old the
oldest event it has not applied is (0 when caught up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from projections.engine.lag import Lag

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Source:
    """The store: positions 1..10, event n stored 10 - n seconds before NOW."""

    def max_position(self) -> int:
        return 10

    def next_after(self, position: int) -> int | None:
        return position + 1 if position < 10 else None

    def time_of(self, notification: int) -> datetime:
        return NOW - timedelta(seconds=10 - notification)


def test_lag_in_positions_and_seconds() -> None:
    positions = {"runs": 10, "directory_users": 4}
    lag = Lag(cast(Any, Source()), lambda: positions, now=lambda: NOW)
    assert sorted(lag.in_positions()) == [
        (0.0, {"cairn.projector": "runs"}),
        (6.0, {"cairn.projector": "directory_users"}),
    ]
    # directory_users has not applied event 5, stored 5 s ago.
    assert sorted(lag.in_seconds()) == [
        (0.0, {"cairn.projector": "runs"}),
        (5.0, {"cairn.projector": "directory_users"}),
    ]
    for watch in lag.watch():
        watch.close()
