"""The runs view: each run's status as its events arrive; escalated rows are the inbox."""

from __future__ import annotations

from typing import Any

from projections.projector import Projector, Writes, handles

_RUN = "domain.runs.run:Run."
_INSERT = (
    "INSERT INTO {runs} (tenant_id, run_id, user_id, channel, text, status, created_at,"
    " updated_at, version, position) VALUES (%s, %s, %s, %s, %s, 'submitted', %s, %s, %s, %s)"
)
_TAIL = ", updated_at = %s, version = %s, position = %s WHERE run_id = %s"
# Status each event leaves the run in (PolicyDecided depends on its outcome).
_STATUS = {
    "PlanProposed": "planned",
    "EscalationRequested": "escalated",
    "EscalationApproved": "approved",
    "EscalationDenied": "denied",
    "EscalationExpired": "denied",
    "StepStarted": "executing",
    "RunCompleted": "completed",
    "RunCancelled": "cancelled",
}
_DECIDED = {"APPROVE": "approved", "DENY": "denied", "ESCALATE": "planned"}


class Runs(Projector):
    name = "runs"
    version = 1
    tables = ("runs",)
    on_error = "stop"

    def _update(self, sets: str, event: Any, position: int, writes: Writes, *params: Any) -> None:
        writes.execute(
            # `sets` is one of this module's constants, never input.
            self.sql("UPDATE {runs} SET " + sets + _TAIL),  # noqa: S608
            (*params, event.timestamp, event.originator_version, position, event.originator_id),
        )

    @handles(_RUN + "IntentSubmitted")
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
                event.text,
                event.timestamp,
                event.timestamp,
                event.originator_version,
                position,
            ),
        )

    @handles(*(_RUN + name for name in _STATUS))
    def moved(self, event: Any, position: int, writes: Writes) -> None:
        status = _STATUS[type(event).__name__]
        if type(event).__name__ == "PlanProposed":
            self._update(
                "status = %s, plan_hash = %s", event, position, writes, status, event.plan_hash
            )
        elif type(event).__name__ == "EscalationRequested":
            self._update(
                "status = %s, escalation_expires_at = %s",
                event,
                position,
                writes,
                status,
                event.expires_at,
            )
        else:
            self._update("status = %s", event, position, writes, status)

    @handles(_RUN + "PolicyDecided")
    def decided(self, event: Any, position: int, writes: Writes) -> None:
        self._update(
            "status = %s, outcome = %s",
            event,
            position,
            writes,
            _DECIDED[event.outcome],
            event.outcome,
        )

    @handles(_RUN + "RunFailed")
    def failed(self, event: Any, position: int, writes: Writes) -> None:
        self._update("status = 'failed', failure = %s", event, position, writes, event.reason)
