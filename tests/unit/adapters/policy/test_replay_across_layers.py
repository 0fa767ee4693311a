"""Decisions recorded before the household layer existed replay to the same decision after it.

`decisions_before_household.json` holds decisions exactly as the engine recorded them before
decision 0015 (the person's defaults still held the payments hard cap, and no household layer
was asked), dumped as a run event stores them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.policy.defaults import (
    DEFAULT_POLICIES,
    HOUSEHOLD_DEFAULTS,
    PERSON_DEFAULTS_BEFORE_HOUSEHOLD,
)
from adapters.policy.engine import CedarPolicyEngine
from domain.policy.model import Decision, Outcome, policy_version

pytestmark = pytest.mark.unit

RECORDED: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "decisions_before_household.json").read_text()
)


@pytest.mark.parametrize("record", RECORDED, ids=lambda r: r["outcome"])
def test_a_decision_recorded_before_the_household_layer_replays_identically(
    record: dict[str, Any],
) -> None:
    decision = Decision.model_validate(record)
    assert decision.input.household_version is None
    assert decision.input.policy_version == policy_version(PERSON_DEFAULTS_BEFORE_HOUSEHOLD)
    replayed = CedarPolicyEngine().replay(decision.input, PERSON_DEFAULTS_BEFORE_HOUSEHOLD)
    assert replayed == decision
    # Stored again, it is the same record: the new fields are absent-as-null, nothing else.
    dumped = replayed.model_dump(mode="json", exclude_none=True)
    assert dumped == _without_nulls(record)


@pytest.mark.parametrize("record", RECORDED, ids=lambda r: r["outcome"])
def test_the_same_inputs_decided_with_both_layers_reach_the_same_outcomes(
    record: dict[str, Any],
) -> None:
    # The defaults moved: the person's set lost the hard cap, the household gained it.
    before = Decision.model_validate(record)
    now_input = before.input.model_copy(
        update={
            "policy_version": policy_version(DEFAULT_POLICIES),
            "household_version": policy_version(HOUSEHOLD_DEFAULTS),
        }
    )
    engine = CedarPolicyEngine()
    now = engine.decide(now_input, DEFAULT_POLICIES, HOUSEHOLD_DEFAULTS)
    assert now.outcome == before.outcome
    renamed = {"payments.hard-cap": "household.payments-hard-cap"}
    assert now.policies == tuple(renamed.get(p, p) for p in before.policies)
    if before.outcome is Outcome.DENY:
        assert now.decided_by == "household"
    assert engine.replay(now.input) == now


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
