"""The runs view: one row per run with everything `GET /v1/runs/{id}` shows (status, plan,
decision record, steps, failure, timeline), so reading a run never replays it from the event
store. Escalated rows are the approvals inbox.

Each handler mirrors the Run aggregate's own mutator for its event (domain/runs/run.py), and
every event of a run appends `{type, version, at}` to its timeline. A handler says what its
event changes (changes.RunChange); a batch writes each run's changes together (decision 0050).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.runs.run import STATUS_AFTER_DECISION, Run, RunStatus
from projections.engine.projector_base import Projector, Writes, handles
from projections.views.runs.changes import RunChange, StepChange


def _plain(value: Any) -> Any:
    """What FastAPI's encoder would have made of a decoded value (the route answered with the
    aggregate's attributes before)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _no_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nul(v) for v in value]
    return value


def as_json(value: Any) -> str:
    """JSON text PostgreSQL's jsonb accepts: it refuses the NUL character (`\\u0000`), which
    a model's plan or a provider's answer may hold; the view shows U+FFFD there instead of
    stopping the shared projector (the event store keeps the original)."""
    text = json.dumps(value, default=_plain, separators=(",", ":"))
    if "\\u0000" in text:  # rare: only then walk the value
        text = json.dumps(_no_nul(value), default=_plain, separators=(",", ":"))
    return text


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\ufffd")


def _step(event: Any) -> str:
    return str(event.step_id).replace("\x00", "\ufffd")


class Runs(Projector):
    name = "runs"
    version = 2
    tables = ("runs",)
    on_error = "stop"

    def _change(self, event: Any, position: int, **sets: Any) -> RunChange:
        return RunChange(
            self.physical["runs"],
            event.originator_id,
            event.timestamp,
            event.originator_version,
            position,
            {
                "type": type(event).__name__,
                "version": event.originator_version,
                "at": event.timestamp.isoformat(),
            },
            sets=sets,
        )

    @handles(Run.IntentSubmitted)
    def submitted(self, event: Any, position: int, writes: Writes) -> None:
        if event.tenant_id is None:
            return  # runs recorded before runs carried their tenant: no tenant may see them
        change = self._change(event, position, status=RunStatus.SUBMITTED.value)
        change.row = (event.tenant_id, event.user_id, event.channel, _text(event.text))
        writes.merge(change)

    @handles(Run.PlanProposed)
    def planned(self, event: Any, position: int, writes: Writes) -> None:
        writes.merge(
            self._change(
                event,
                position,
                status=RunStatus.PLANNED.value,
                plan_hash=event.plan_hash,
                plan=as_json(event.plan),
            )
        )

    @handles(Run.PolicyDecided)
    def decided(self, event: Any, position: int, writes: Writes) -> None:
        writes.merge(
            self._change(
                event,
                position,
                status=STATUS_AFTER_DECISION[event.outcome].value,
                outcome=event.outcome,
                decision=as_json({"outcome": event.outcome, **event.decision}),
            )
        )

    @handles(Run.EscalationRequested)
    def escalated(self, event: Any, position: int, writes: Writes) -> None:
        status = RunStatus.ESCALATED.value
        writes.merge(
            self._change(event, position, status=status, escalation_expires_at=event.expires_at)
        )

    @handles(Run.EscalationApproved)
    def escalation_approved(self, event: Any, position: int, writes: Writes) -> None:
        writes.merge(self._change(event, position, status=RunStatus.APPROVED.value))

    @handles(Run.EscalationDenied)
    def escalation_denied(self, event: Any, position: int, writes: Writes) -> None:
        writes.merge(self._change(event, position, status=RunStatus.DENIED.value))

    @handles(Run.EscalationExpired)
    def escalation_expired(self, event: Any, position: int, writes: Writes) -> None:
        writes.merge(self._change(event, position, status=RunStatus.EXPIRED.value))

    @handles(Run.StepStarted)
    def step_started(self, event: Any, position: int, writes: Writes) -> None:
        change = self._change(event, position, status=RunStatus.EXECUTING.value)
        change.step = StepChange(_step(event), True, event.idempotency_key)
        writes.merge(change)

    def _outcome(
        self, event: Any, position: int, outcome: dict[str, Any], **sets: Any
    ) -> RunChange:
        change = self._change(event, position, **sets)
        change.step = StepChange(_step(event), False, as_json(outcome))
        return change

    @handles(Run.StepSucceeded)
    def step_succeeded(self, event: Any, position: int, writes: Writes) -> None:
        outcome = {"state": "succeeded", "result": event.result}
        writes.merge(self._outcome(event, position, outcome))

    @handles(Run.StepFailed)
    def step_failed(self, event: Any, position: int, writes: Writes) -> None:
        outcome = {"state": "failed", "error": event.error, "retryable": event.retryable}
        writes.merge(self._outcome(event, position, outcome))

    @handles(Run.StepEscalated)
    def step_escalated(self, event: Any, position: int, writes: Writes) -> None:
        outcome = {"state": "escalated", "reason": event.reason}
        status = RunStatus.ESCALATED.value
        writes.merge(
            self._outcome(
                event, position, outcome, status=status, escalation_expires_at=event.expires_at
            )
        )

    @handles(Run.RunCompleted)
    def completed(self, event: Any, position: int, writes: Writes) -> None:
        writes.merge(self._change(event, position, status=RunStatus.COMPLETED.value))

    @handles(Run.RunFailed)
    def failed(self, event: Any, position: int, writes: Writes) -> None:
        status = RunStatus.FAILED.value
        writes.merge(self._change(event, position, status=status, failure=_text(event.reason)))

    @handles(Run.RunCancelled)
    def cancelled(self, event: Any, position: int, writes: Writes) -> None:
        writes.merge(self._change(event, position, status=RunStatus.CANCELLED.value))
