"""Failpoints kill at the named point's nth occurrence, and cost nothing when unset."""

from __future__ import annotations

import os
import signal

import pytest

from adapters.failpoints import Failpoints

pytestmark = pytest.mark.unit


def test_the_named_point_kills_at_its_nth_occurrence_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kills: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
    points = Failpoints("before-ack:PlanProposed=2, before-provider-call")
    points.reach("before-ack:IntentSubmitted")
    points.reach("before-ack:PlanProposed")
    assert kills == []
    points.reach("before-ack:PlanProposed")
    assert kills == [(os.getpid(), signal.SIGKILL)]
    points.reach("before-ack:PlanProposed")
    points.reach("before-provider-call")
    assert len(kills) == 2
    assert "failpoint before-ack:PlanProposed: killing" in capsys.readouterr().err


def test_unset_failpoints_never_kill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "kill", lambda pid, sig: pytest.fail("killed"))
    points = Failpoints()
    for _ in range(3):
        points.reach("before-provider-call")
