"""What the projector workers make of what they hear (the listening itself runs against
PostgreSQL in tests/integration/projections/engine/test_view_signals.py)."""

from __future__ import annotations

import pytest

from projections.engine import view_signals
from projections.engine.view_signals import SWITCH_CHANNEL, WAIT_CHANNEL, ViewSignals

pytestmark = pytest.mark.unit


def test_a_wait_is_heard_for_its_projector_only_and_the_highest_position_counts() -> None:
    signals = ViewSignals("postgresql:///unused")
    assert signals.wanted("runs") == 0
    signals._heard(WAIT_CHANNEL, "runs 40")
    signals._heard(WAIT_CHANNEL, "runs 30")
    signals._heard(WAIT_CHANNEL, "directory_users not-a-position")
    assert signals.wanted("runs") == 40
    assert signals.wanted("directory_users") == 0


def test_a_wait_heard_long_ago_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    signals = ViewSignals("postgresql:///unused")
    monkeypatch.setattr(view_signals, "WANTED_FOR_S", -1.0)  # heard, and already too old
    signals._heard(WAIT_CHANNEL, "runs 40")
    assert signals.wanted("runs") == 0
    monkeypatch.setattr(view_signals, "WANTED_FOR_S", 60.0)
    signals._heard(WAIT_CHANNEL, "runs 30")  # not covered by the forgotten 40
    assert signals.wanted("runs") == 30


def test_a_switch_moves_its_projector_only() -> None:
    signals = ViewSignals("postgresql:///unused")
    runs, users = signals.switches("runs"), signals.switches("directory_users")
    signals._heard(SWITCH_CHANNEL, "runs")
    assert signals.switches("runs") != runs
    assert signals.switches("directory_users") == users
