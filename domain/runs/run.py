"""The Run aggregate: intent -> plan -> decision -> (escalation) -> steps -> outcome.

Its events tell the whole story of one intent; invalid transitions are domain errors.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidTransition, Unprocessable


class RunStatus(StrEnum):
    SUBMITTED = "submitted"
    PLANNED = "planned"
    APPROVED = "approved"
    ESCALATED = "escalated"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


FINAL = {
    RunStatus.COMPLETED,
    RunStatus.FAILED,
    RunStatus.DENIED,
    RunStatus.CANCELLED,
    RunStatus.EXPIRED,
}


# The status a policy decision leaves a run in: an ESCALATE waits for its escalation request.
STATUS_AFTER_DECISION = {
    "APPROVE": RunStatus.APPROVED,
    "DENY": RunStatus.DENIED,
    "ESCALATE": RunStatus.PLANNED,
}


class PlanMismatch(Unprocessable):
    code = "plan_mismatch"


def step_idempotency_key(run_id: UUID, step_id: str) -> str:
    """Derived from run and step only, so a retry or a second worker uses the same key."""
    return hashlib.sha256(f"cairn-step:{run_id}:{step_id}".encode()).hexdigest()[:32]


class Run(Aggregate):
    if TYPE_CHECKING:  # made by the @event decorators below, named for type checkers
        IntentSubmitted: ClassVar[type[Aggregate.Event]]
        PlanProposed: ClassVar[type[Aggregate.Event]]
        PolicyDecided: ClassVar[type[Aggregate.Event]]
        EscalationRequested: ClassVar[type[Aggregate.Event]]
        EscalationApproved: ClassVar[type[Aggregate.Event]]
        EscalationDenied: ClassVar[type[Aggregate.Event]]
        EscalationExpired: ClassVar[type[Aggregate.Event]]
        StepStarted: ClassVar[type[Aggregate.Event]]
        StepSucceeded: ClassVar[type[Aggregate.Event]]
        StepFailed: ClassVar[type[Aggregate.Event]]
        StepEscalated: ClassVar[type[Aggregate.Event]]
        RunCompleted: ClassVar[type[Aggregate.Event]]
        RunFailed: ClassVar[type[Aggregate.Event]]
        RunCancelled: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(run_id: UUID, **_: object) -> UUID:
        # Chosen by the caller (derived from the command id), so a retried submission names
        # the same run and the store's command-id record turns it into a no-op.
        return run_id

    @event("IntentSubmitted")
    def __init__(
        self,
        run_id: UUID,
        text: str,
        user_id: str,
        device_id: str | None,
        channel: str,
        tenant_id: UUID | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.text = text
        self.user_id = user_id
        self.device_id = device_id
        self.channel = channel
        self.status = RunStatus.SUBMITTED
        self.plan: dict[str, Any] | None = None
        self.plan_hash: str | None = None
        self.decision: dict[str, Any] | None = None
        self.escalation_expires_at: datetime | None = None
        self.steps: dict[str, dict[str, Any]] = {}
        self.failure: str | None = None

    # Guards

    def check_status(self, *allowed: RunStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransition(
                f"run is {self.status.value}; this needs it to be "
                + " or ".join(s.value for s in allowed),
                {"run_id": str(self.id), "status": self.status.value},
            )

    def check_plan_hash(self, plan_hash: str) -> None:
        if plan_hash != self.plan_hash:
            raise PlanMismatch(
                "the approval is for another plan than this run's",
                {"run_id": str(self.id), "expected": self.plan_hash, "given": plan_hash},
            )

    def check_may_execute(self) -> None:
        self.check_status(RunStatus.APPROVED, RunStatus.EXECUTING)

    # Planning and deciding

    def propose_plan(
        self,
        plan: dict[str, Any],
        plan_hash: str,
        usage: dict[str, Any],
        context_given: list[str] | None = None,
    ) -> None:
        self.check_status(RunStatus.SUBMITTED)
        self._plan_proposed(plan, plan_hash, usage, list(context_given or ()))

    # `context_given`: the graph's fact and memory ids given to the model (older plans: none).
    @event("PlanProposed")
    def _plan_proposed(
        self,
        plan: dict[str, Any],
        plan_hash: str,
        usage: dict[str, Any],
        context_given: list[str] | None = None,
    ) -> None:
        self.plan = plan
        self.plan_hash = plan_hash
        self.status = RunStatus.PLANNED

    def decide(self, outcome: str, decision: dict[str, Any], plan_hash: str) -> None:
        self.check_status(RunStatus.PLANNED)
        if self.decision is not None:
            raise InvalidTransition("this plan was already decided", {"run_id": str(self.id)})
        self.check_plan_hash(plan_hash)
        if outcome not in ("APPROVE", "DENY", "ESCALATE"):
            raise InvalidTransition(f"unknown policy outcome {outcome!r}")
        self._policy_decided(outcome, decision)

    @event("PolicyDecided")
    def _policy_decided(self, outcome: str, decision: dict[str, Any]) -> None:
        self.decision = {"outcome": outcome, **decision}
        self.status = STATUS_AFTER_DECISION[outcome]

    # Escalation

    def request_escalation(self, expires_at: datetime) -> None:
        self.check_status(RunStatus.PLANNED)
        if not self.decision or self.decision["outcome"] != "ESCALATE":
            raise InvalidTransition("only an ESCALATE decision can be escalated")
        self._escalation_requested(self.plan_hash, expires_at)

    @event("EscalationRequested")
    def _escalation_requested(self, plan_hash: str | None, expires_at: datetime) -> None:
        self.escalation_expires_at = expires_at
        self.status = RunStatus.ESCALATED

    def check_escalation_open(self, now: datetime) -> None:
        self.check_status(RunStatus.ESCALATED)
        assert self.escalation_expires_at is not None
        if now >= self.escalation_expires_at:
            raise InvalidTransition("the escalation expired", {"run_id": str(self.id)})

    def approve_escalation(
        self,
        plan_hash: str,
        approved_by: str,
        credential_id: str,
        assertion: dict[str, Any],
        now: datetime,
    ) -> None:
        self.check_escalation_open(now)
        self.check_plan_hash(plan_hash)
        self._escalation_approved(plan_hash, approved_by, credential_id, assertion)

    @event("EscalationApproved")
    def _escalation_approved(
        self, plan_hash: str, approved_by: str, credential_id: str, assertion: dict[str, Any]
    ) -> None:
        self.status = RunStatus.APPROVED

    def deny_escalation(self, denied_by: str, reason: str, now: datetime) -> None:
        self.check_escalation_open(now)
        self._escalation_denied(denied_by, reason)

    @event("EscalationDenied")
    def _escalation_denied(self, denied_by: str, reason: str) -> None:
        self.status = RunStatus.DENIED

    def expire_escalation(self, now: datetime) -> None:
        self.check_status(RunStatus.ESCALATED)
        assert self.escalation_expires_at is not None
        if now < self.escalation_expires_at:
            raise InvalidTransition("the escalation has not expired yet")
        self._escalation_expired(now)

    @event("EscalationExpired")
    def _escalation_expired(self, at: datetime) -> None:
        self.status = RunStatus.EXPIRED

    # Execution

    def start_step(self, step_id: str) -> str:
        self.check_may_execute()
        if step_id in self.steps and self.steps[step_id]["state"] == "succeeded":
            raise InvalidTransition("this step already succeeded", {"step_id": step_id})
        key = step_idempotency_key(self.id, step_id)
        self._step_started(step_id, key)
        return key

    @event("StepStarted")
    def _step_started(self, step_id: str, idempotency_key: str) -> None:
        attempts = self.steps.get(step_id, {}).get("attempts", 0) + 1
        self.steps[step_id] = {"state": "started", "key": idempotency_key, "attempts": attempts}
        self.status = RunStatus.EXECUTING

    def succeed_step(self, step_id: str, result: dict[str, Any]) -> None:
        self.check_status(RunStatus.EXECUTING)
        self._check_step_started(step_id)
        self._step_succeeded(step_id, result)

    @event("StepSucceeded")
    def _step_succeeded(self, step_id: str, result: dict[str, Any]) -> None:
        self.steps[step_id].update(state="succeeded", result=result)

    def fail_step(self, step_id: str, error: str, retryable: bool) -> None:
        self.check_status(RunStatus.EXECUTING)
        self._check_step_started(step_id)
        self._step_failed(step_id, error, retryable)

    @event("StepFailed")
    def _step_failed(self, step_id: str, error: str, retryable: bool) -> None:
        self.steps[step_id].update(state="failed", error=error, retryable=retryable)

    def escalate_step(self, step_id: str, reason: str, expires_at: datetime) -> None:
        """The step needs the person first (a connection to renew, say): the run waits for
        their approval, as an escalated plan does, and the step is attempted again after it."""
        self.check_status(RunStatus.EXECUTING)
        self._check_step_started(step_id)
        self._step_escalated(step_id, reason, expires_at)

    @event("StepEscalated")
    def _step_escalated(self, step_id: str, reason: str, expires_at: datetime) -> None:
        self.steps[step_id].update(state="escalated", reason=reason)
        self.escalation_expires_at = expires_at
        self.status = RunStatus.ESCALATED

    def _check_step_started(self, step_id: str) -> None:
        if self.steps.get(step_id, {}).get("state") != "started":
            raise InvalidTransition("this step is not running", {"step_id": step_id})

    # Outcomes

    def complete(self) -> None:
        self.check_status(RunStatus.EXECUTING)
        planned = [s["step_id"] for s in (self.plan or {}).get("steps", [])]
        if any(self.steps.get(s, {}).get("state") != "succeeded" for s in planned):
            raise InvalidTransition("not every step has succeeded")
        self._completed()

    @event("RunCompleted")
    def _completed(self) -> None:
        self.status = RunStatus.COMPLETED

    def fail(self, reason: str) -> None:
        if self.status in FINAL:
            raise InvalidTransition(f"run is already {self.status.value}")
        self._failed(reason)

    @event("RunFailed")
    def _failed(self, reason: str) -> None:
        self.failure = reason
        self.status = RunStatus.FAILED

    def cancel(self, cancelled_by: str) -> None:
        if self.status in FINAL or self.status == RunStatus.EXECUTING:
            raise InvalidTransition(f"a run that is {self.status.value} cannot be cancelled")
        self._cancelled(cancelled_by)

    @event("RunCancelled")
    def _cancelled(self, cancelled_by: str) -> None:
        self.status = RunStatus.CANCELLED
