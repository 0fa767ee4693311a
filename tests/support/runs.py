"""A run as `GET /v1/runs/{id}` answered when it replayed the run from the event store: what
the runs view must equal."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import Application


def replayed_run(app: Application[uuid.UUID], run_id: uuid.UUID) -> dict[str, Any]:
    run: Any = app.repository.get(run_id)
    timeline = []
    for stored in app.recorder.select_events(run_id):
        event: Any = app.mapper.to_domain_event(stored)
        at = event.timestamp.isoformat()
        timeline.append(
            {"type": type(event).__name__, "version": event.originator_version, "at": at}
        )
    expires = run.escalation_expires_at
    return {
        "run_id": str(run.id),
        "status": run.status.value,
        "text": run.text,
        "channel": run.channel,
        "plan": run.plan,
        "plan_hash": run.plan_hash,
        "decision": run.decision,
        "steps": run.steps,
        "failure": run.failure,
        "escalation_expires_at": expires.isoformat() if expires else None,
        "timeline": timeline,
    }
