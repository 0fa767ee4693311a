"""Answering an escalation, and cancelling a run: Given / When / Then, in memory."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from commands.runs.approvals import ApproveEscalation, CancelRun, DenyEscalation
from domain.runs.run import Run, RunStatus
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit


def _run(scenario: Scenario, run_id: str) -> Run:
    run: object = scenario.ports.runs.repository.get(uuid.UUID(run_id))
    assert isinstance(run, Run)
    return run


def test_an_approval_bound_to_the_plan_approves_the_escalation(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    then = scenario.when(
        ApproveEscalation(**scenario.approval(ada, run_id)), scenario.issued(ada, "k2")
    )
    assert then.events == ["Run.EscalationApproved"]
    assert then.result.ids == {"run_id": run_id}
    assert then.context_of("Run.EscalationApproved").correlation_id == run_id
    assert _run(scenario, run_id).status is RunStatus.APPROVED


def test_a_second_answer_to_an_escalation_is_a_conflict(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    late = scenario.approval(ada, run_id)
    scenario.dispatch(ApproveEscalation(**scenario.approval(ada, run_id)), scenario.issued(ada))
    again = scenario.when(ApproveEscalation(**late), scenario.issued(ada))
    again.refused("conflict")
    again.nothing_recorded()
    deny = scenario.when(DenyEscalation(run_id=run_id), scenario.issued(ada))
    deny.refused("conflict")


def test_an_approval_that_loses_the_race_at_the_store_is_a_conflict(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    first, second = scenario.approval(ada, run_id), scenario.approval(ada, run_id)
    passkeys = scenario.ports.identity.passkeys
    verify = passkeys.finish_plan_approval

    def other_answer_lands_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # The second approval is verified while the first is saved: it read the run before.
        monkeypatch.setattr(passkeys, "finish_plan_approval", verify)
        scenario.dispatch(ApproveEscalation(**first), scenario.issued(ada))
        return verify(*args, **kwargs)

    monkeypatch.setattr(passkeys, "finish_plan_approval", other_answer_lands_meanwhile)
    then = scenario.when(ApproveEscalation(**second), scenario.issued(ada))
    then.refused("conflict")
    assert then.events == ["Run.EscalationApproved"]  # the first one's, only
    assert _run(scenario, run_id).version == 5


def test_an_expired_escalation_cannot_be_approved(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada, expires_in=timedelta(minutes=1))
    approval = scenario.approval(ada, run_id)
    scenario.later(minutes=2)
    then = scenario.when(ApproveEscalation(**approval), scenario.issued(ada))
    then.refused("invalid_transition")
    then.nothing_recorded()


def test_another_persons_run_is_not_found(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    eve = scenario.signed_up("other", "eve@example.com")
    run_id = scenario.escalated_run(ada)
    for command in (DenyEscalation(run_id=run_id), CancelRun(run_id=run_id)):
        then = scenario.when(command, scenario.issued(eve))
        then.refused("not_found")
        then.nothing_recorded()
    scenario.when(CancelRun(run_id="not-a-uuid"), scenario.issued(eve)).refused("not_found")


def test_a_denied_escalation_is_final(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    then = scenario.when(DenyEscalation(run_id=run_id, reason="not now"), scenario.issued(ada))
    assert then.events == ["Run.EscalationDenied"]
    assert _run(scenario, run_id).status is RunStatus.DENIED


def test_a_waiting_run_is_cancelled_once(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    then = scenario.when(CancelRun(run_id=run_id), scenario.issued(ada))
    assert then.events == ["Run.RunCancelled"]
    again = scenario.when(CancelRun(run_id=run_id), scenario.issued(ada))
    again.refused("invalid_transition")
    again.nothing_recorded()
