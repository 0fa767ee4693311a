"""Given/When/Then tests of the Run aggregate, and a stateful property over its transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.errors import DomainError, InvalidTransition
from domain.runs.plan import Plan
from domain.runs.run import PlanMismatch, Run, RunStatus, step_idempotency_key

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PLAN = Plan.model_validate(
    {
        "summary": "Meet Sarah",
        "steps": [
            {
                "step_id": "s1",
                "action": "calendar.create_event",
                "provider": "google",
                "parameters": {
                    "title": "Meeting with Sarah",
                    "start": "2026-12-01T14:00:00+01:00",
                    "end": "2026-12-01T15:00:00+01:00",
                    "attendees": ["sarah@example.com"],
                },
            }
        ],
    }
)


def given_planned() -> Run:
    run = Run(uuid4(), "Schedule a meeting with Sarah", "user-1", "dev-1", "app")
    run.propose_plan(PLAN.model_dump(mode="json"), PLAN.plan_hash(), {"model": "m"})
    return run


def names(run: Run) -> list[str]:
    return [type(e).__name__ for e in run.collect_events()]


def test_approved_plan_executes_and_completes() -> None:
    run = given_planned()
    run.decide("APPROVE", {"policies": ["p1"]}, PLAN.plan_hash())
    key = run.start_step("s1")
    run.succeed_step("s1", {"event_id": "e1"})
    run.complete()
    assert key == step_idempotency_key(run.id, "s1")
    assert run.status is RunStatus.COMPLETED
    assert names(run) == [
        "IntentSubmitted",
        "PlanProposed",
        "PolicyDecided",
        "StepStarted",
        "StepSucceeded",
        "RunCompleted",
    ]


def test_denied_plan_never_starts_a_step() -> None:
    run = given_planned()
    run.decide("DENY", {"policies": ["forbid-payments"]}, PLAN.plan_hash())
    with pytest.raises(InvalidTransition):
        run.start_step("s1")


def test_escalation_needs_an_approval_for_this_exact_plan() -> None:
    run = given_planned()
    run.decide("ESCALATE", {}, PLAN.plan_hash())
    with pytest.raises(InvalidTransition):
        run.start_step("s1")
    run.request_escalation(NOW + timedelta(minutes=5))
    with pytest.raises(PlanMismatch):
        run.approve_escalation("0" * 64, "user-1", "cred", {}, NOW)
    run.approve_escalation(PLAN.plan_hash(), "user-1", "cred", {"sig": "x"}, NOW)
    assert run.start_step("s1")


def test_expired_escalation_cannot_be_approved_and_expires() -> None:
    run = given_planned()
    run.decide("ESCALATE", {}, PLAN.plan_hash())
    run.request_escalation(NOW)
    with pytest.raises(InvalidTransition, match="expired"):
        run.approve_escalation(PLAN.plan_hash(), "user-1", "cred", {}, NOW)
    run.expire_escalation(NOW)
    assert run.status is RunStatus.EXPIRED
    with pytest.raises(InvalidTransition):
        run.cancel("user-1")


def test_completion_needs_every_step_succeeded() -> None:
    run = given_planned()
    run.decide("APPROVE", {}, PLAN.plan_hash())
    run.start_step("s1")
    run.fail_step("s1", "provider timeout", retryable=True)
    with pytest.raises(InvalidTransition):
        run.complete()
    run.start_step("s1")
    assert run.steps["s1"]["attempts"] == 2


def test_cancel_is_refused_once_final() -> None:
    run = given_planned()
    run.cancel("user-1")
    with pytest.raises(InvalidTransition):
        run.cancel("user-1")


class RunMachine(RuleBasedStateMachine):
    """Any sequence of commands: refused ones change nothing, accepted ones keep invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.run = given_planned()
        self.run.collect_events()

    def attempt(self, action: Any) -> None:
        before = (self.run.status, self.run.version)
        try:
            action()
        except DomainError:
            assert (self.run.status, self.run.version) == before

    @rule(outcome=st.sampled_from(["APPROVE", "DENY", "ESCALATE"]))
    def decide(self, outcome: str) -> None:
        self.attempt(lambda: self.run.decide(outcome, {}, PLAN.plan_hash()))

    @rule(minutes=st.integers(-5, 5))
    def escalate(self, minutes: int) -> None:
        self.attempt(lambda: self.run.request_escalation(NOW + timedelta(minutes=minutes)))

    @rule(same_plan=st.booleans())
    def approve(self, same_plan: bool) -> None:
        plan_hash = PLAN.plan_hash() if same_plan else "f" * 64
        self.attempt(lambda: self.run.approve_escalation(plan_hash, "u", "c", {}, NOW))

    @rule()
    def start(self) -> None:
        self.attempt(lambda: self.run.start_step("s1"))

    @rule(ok=st.booleans())
    def finish_step(self, ok: bool) -> None:
        if ok:
            self.attempt(lambda: self.run.succeed_step("s1", {}))
        else:
            self.attempt(lambda: self.run.fail_step("s1", "x", retryable=True))

    @rule()
    def complete(self) -> None:
        self.attempt(self.run.complete)

    @rule()
    def cancel(self) -> None:
        self.attempt(lambda: self.run.cancel("u"))

    @invariant()
    def steps_run_only_after_approval(self) -> None:
        events = [type(e).__name__ for e in self.run.pending_events]
        if "StepStarted" in events:
            first_step = events.index("StepStarted")
            before = events[:first_step]
            assert "EscalationApproved" in before or (
                self.run.decision is not None and self.run.decision["outcome"] == "APPROVE"
            )
        if self.run.status is RunStatus.COMPLETED:
            assert self.run.steps["s1"]["state"] == "succeeded"


RunMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=20)
TestRunMachine = RunMachine.TestCase
