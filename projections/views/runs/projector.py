"""The runs view: one row per run with everything `GET /v1/runs/{id}` shows (status, plan,
decision record, steps, failure, timeline), so reading a run never replays it from the event
store. Escalated rows are the approvals inbox.

Each handler mirrors the Run aggregate's own mutator for its event (domain/runs/run.py), and
every event of a run appends `{type, version, at}` to its timeline.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.runs.run import STATUS_AFTER_DECISION, Run, RunStatus
from projections.engine.projector_base import Projector, Writes, handles

_INSERT = (
    "INSERT INTO {runs} (tenant_id, run_id, user_id, channel, text, status, timeline,"
    " created_at, updated_at, version, position)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)"
)
_TAIL = (
    ", timeline = timeline || %s::jsonb, updated_at = %s, version = %s, position = %s"
    " WHERE run_id = %s"
)
_STATUS = "status = %s"
# A step's entry as the aggregate keeps it: a (re)start replaces it, an outcome adds to it.
_STEP_STARTED = (
    "status = %s, steps = jsonb_set(steps, ARRAY[%s::text], jsonb_build_object("
    "'state', 'started', 'key', %s::text,"
    " 'attempts', coalesce((steps #>> ARRAY[%s::text, 'attempts'])::int, 0) + 1))"
)
_STEP_OUTCOME = (
    "steps = jsonb_set(steps, ARRAY[%s::text], coalesce(steps -> %s::text, '{}') || %s::jsonb)"
)


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


def _entry(event: Any) -> str:
    return as_json(
        [
            {
                "type": type(event).__name__,
                "version": event.originator_version,
                "at": event.timestamp.isoformat(),
            }
        ]
    )


class Runs(Projector):
    name = "runs"
    version = 2
    tables = ("runs",)
    on_error = "stop"

    def _update(self, sets: str, event: Any, position: int, writes: Writes, *params: Any) -> None:
        writes.execute(
            # `sets` is made of this module's constants, never of input.
            self.sql("UPDATE {runs} SET " + sets + _TAIL),  # noqa: S608
            (
                *params,
                _entry(event),
                event.timestamp,
                event.originator_version,
                position,
                event.originator_id,
            ),
        )

    @handles(Run.IntentSubmitted)
    def submitted(self, event: Any, position: int, writes: Writes) -> None:
        if event.tenant_id is None:
            return  # runs recorded before runs carried their tenant: no tenant may see them
        writes.execute(
            self.sql(_INSERT),
            (
                event.tenant_id,
                event.originator_id,
                event.user_id,
                event.channel,
                _text(event.text),
                RunStatus.SUBMITTED.value,
                _entry(event),
                event.timestamp,
                event.timestamp,
                event.originator_version,
                position,
            ),
        )

    @handles(Run.PlanProposed)
    def planned(self, event: Any, position: int, writes: Writes) -> None:
        self._update(
            _STATUS + ", plan_hash = %s, plan = %s::jsonb",
            event,
            position,
            writes,
            RunStatus.PLANNED.value,
            event.plan_hash,
            as_json(event.plan),
        )

    @handles(Run.PolicyDecided)
    def decided(self, event: Any, position: int, writes: Writes) -> None:
        self._update(
            _STATUS + ", outcome = %s, decision = %s::jsonb",
            event,
            position,
            writes,
            STATUS_AFTER_DECISION[event.outcome].value,
            event.outcome,
            as_json({"outcome": event.outcome, **event.decision}),
        )

    @handles(Run.EscalationRequested)
    def escalated(self, event: Any, position: int, writes: Writes) -> None:
        self._update(
            _STATUS + ", escalation_expires_at = %s",
            event,
            position,
            writes,
            RunStatus.ESCALATED.value,
            event.expires_at,
        )

    @handles(Run.EscalationApproved)
    def escalation_approved(self, event: Any, position: int, writes: Writes) -> None:
        self._update(_STATUS, event, position, writes, RunStatus.APPROVED.value)

    @handles(Run.EscalationDenied)
    def escalation_denied(self, event: Any, position: int, writes: Writes) -> None:
        self._update(_STATUS, event, position, writes, RunStatus.DENIED.value)

    @handles(Run.EscalationExpired)
    def escalation_expired(self, event: Any, position: int, writes: Writes) -> None:
        self._update(_STATUS, event, position, writes, RunStatus.EXPIRED.value)

    @handles(Run.StepStarted)
    def step_started(self, event: Any, position: int, writes: Writes) -> None:
        step = _text(event.step_id)
        executing = RunStatus.EXECUTING.value
        self._update(
            _STEP_STARTED, event, position, writes, executing, step, event.idempotency_key, step
        )

    @handles(Run.StepSucceeded)
    def step_succeeded(self, event: Any, position: int, writes: Writes) -> None:
        outcome = as_json({"state": "succeeded", "result": event.result})
        step = _text(event.step_id)
        self._update(_STEP_OUTCOME, event, position, writes, step, step, outcome)

    @handles(Run.StepFailed)
    def step_failed(self, event: Any, position: int, writes: Writes) -> None:
        outcome = as_json({"state": "failed", "error": event.error, "retryable": event.retryable})
        step = _text(event.step_id)
        self._update(_STEP_OUTCOME, event, position, writes, step, step, outcome)

    @handles(Run.StepEscalated)
    def step_escalated(self, event: Any, position: int, writes: Writes) -> None:
        outcome = as_json({"state": "escalated", "reason": event.reason})
        step = _text(event.step_id)
        self._update(
            _STATUS + ", escalation_expires_at = %s, " + _STEP_OUTCOME,
            event,
            position,
            writes,
            RunStatus.ESCALATED.value,
            event.expires_at,
            step,
            step,
            outcome,
        )

    @handles(Run.RunCompleted)
    def completed(self, event: Any, position: int, writes: Writes) -> None:
        self._update(_STATUS, event, position, writes, RunStatus.COMPLETED.value)

    @handles(Run.RunFailed)
    def failed(self, event: Any, position: int, writes: Writes) -> None:
        self._update(
            _STATUS + ", failure = %s",
            event,
            position,
            writes,
            RunStatus.FAILED.value,
            _text(event.reason),
        )

    @handles(Run.RunCancelled)
    def cancelled(self, event: Any, position: int, writes: Writes) -> None:
        self._update(_STATUS, event, position, writes, RunStatus.CANCELLED.value)
