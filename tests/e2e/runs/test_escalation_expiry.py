"""An escalation nobody answers expires at its time, with no request to notice it, and leaves
the approvals inbox."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.runs.run import Run, RunStatus
from tests.e2e.runs.test_intent_lifecycle import payment, submit, wait_status, with_model_answering
from tests.support.in_process import Cairn
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e


@pytest.fixture
def projected(cairn: Cairn) -> Cairn:
    return cairn  # the e2e Cairn runs its projectors (tests/e2e/conftest.py)


def test_an_unanswered_escalation_expires_on_time_and_leaves_the_inbox(
    projected: Cairn, provider: FakeProvider
) -> None:
    cairn = projected
    ada = cairn.sign_up("expiry")
    with_model_answering(cairn, ada, payment("20.00"))
    worker = cairn.runs_worker
    worker.ports = dataclasses.replace(worker.ports, escalation_ttl=timedelta(seconds=5))
    run_id = submit(cairn, ada, "Pay Bob 20 euros")["run_id"]
    escalated = wait_status(cairn, ada, run_id, "escalated")
    inbox = cairn.client.get(
        "/v1/approvals", headers=ada.headers, params={"after": _position(cairn, run_id)}
    )
    assert inbox.status_code == 200, inbox.text
    assert [item["run_id"] for item in inbox.json()["items"]] == [run_id]

    # Nobody asks Cairn anything while the escalation runs out.
    expires_at = datetime.fromisoformat(escalated["escalation_expires_at"])
    app = cairn.services.runs.app
    # Read from the store directly (no request to Cairn): only its timer can expire the run.
    deadline = time.monotonic() + (expires_at - datetime.now(expires_at.tzinfo)).total_seconds()
    while time.monotonic() < deadline + 10:
        run: Any = app.repository.get(uuid.UUID(run_id))
        if run.status is not RunStatus.ESCALATED:
            break
        time.sleep(0.25)
    assert isinstance(run, Run) and run.status is RunStatus.EXPIRED
    last: Any = list(app.events.get(uuid.UUID(run_id)))[-1]
    assert type(last).__name__ == "EscalationExpired"
    # Fired by a worker's timer at its time (the timer thread looks at least once a second),
    # not by a later request.
    assert expires_at <= last.at < expires_at + timedelta(seconds=5)

    after = _position(cairn, run_id)
    inbox = cairn.client.get("/v1/approvals", headers=ada.headers, params={"after": after})
    assert inbox.status_code == 200, inbox.text
    assert inbox.json()["items"] == []
    shown = cairn.client.get(f"/v1/runs/{run_id}", headers=ada.headers).json()
    assert shown["status"] == "expired"
    assert provider.received() == 0


def _position(cairn: Cairn, run_id: str) -> int:
    app = cairn.services.runs.app
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    return max(n.id for n in notifications if str(n.originator_id) == run_id)
