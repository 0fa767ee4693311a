"""An MCP action call's plan, and what a client is answered in each state of its run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from commands.mcp.invoke import InvokeAction, Outcome, client_plan, outcome_of
from domain.runs.actions import InvalidParameters, UnknownAction
from domain.runs.run import Run

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def invoke(action: str = "payments.send", **parameters: object) -> InvokeAction:
    given = parameters or {"recipient": "bob", "amount": "20.5", "currency": "EUR"}
    return InvokeAction(action=action, parameters=given, client_name="MCP: Agent")


def planned_run(outcome: str | None = None, policies: tuple[str, ...] = ()) -> Run:
    run = Run(uuid.uuid4(), "MCP tool call", "user-1", "mcp-d", "mcp")
    plan = client_plan(invoke())
    run.propose_plan(plan.model_dump(mode="json"), plan.plan_hash(), {})
    if outcome is not None:
        run.decide(outcome, {"policies": list(policies)}, plan.plan_hash())
    return run


def test_the_plan_is_one_step_with_the_validated_parameters() -> None:
    plan = client_plan(invoke())
    [step] = plan.steps
    assert (step.step_id, step.action, step.provider) == ("s1", "payments.send", "bank")
    assert Decimal(step.parameters["amount"]) == Decimal("20.50")
    assert "memo" not in step.parameters
    assert client_plan(invoke()).plan_hash() == plan.plan_hash()
    with pytest.raises(UnknownAction):
        client_plan(invoke("shell.run", cmd="ls"))
    with pytest.raises(InvalidParameters):
        client_plan(invoke(recipient="bob", amount="20", currency="EUR", extra="x"))


def test_each_state_answers_what_the_client_can_do_next() -> None:
    assert outcome_of(planned_run()).outcome is Outcome.PENDING

    denied = outcome_of(planned_run("DENY", ("household.payments-hard-cap",)))
    assert denied.outcome is Outcome.DENIED and denied.decision == "DENY"
    assert "household.payments-hard-cap" in denied.message

    by_default = outcome_of(planned_run("DENY"))
    assert "deny by default" in by_default.message

    escalated = planned_run("ESCALATE", ("payments.with-approval",))
    escalated.request_escalation(NOW + timedelta(minutes=15))
    asked = outcome_of(escalated)
    assert asked.outcome is Outcome.ESCALATED and asked.policies == ("payments.with-approval",)

    escalated.deny_escalation("user-1", "no", NOW)
    refused = outcome_of(escalated)
    assert refused.outcome is Outcome.DENIED and refused.message == "the person denied it"

    approved = planned_run("APPROVE", ("payments.autonomous-within-limit",))
    assert outcome_of(approved).outcome is Outcome.PENDING
    approved.start_step("s1")
    approved.succeed_step("s1", {"id": "pay-1"})
    approved.complete()
    done = outcome_of(approved)
    assert done.outcome is Outcome.COMPLETED and done.results == {"s1": {"id": "pay-1"}}

    failed = planned_run("APPROVE")
    failed.fail("provider_down: the bank did not answer")
    assert outcome_of(failed).outcome is Outcome.ENDED
    assert "provider_down" in outcome_of(failed).message
