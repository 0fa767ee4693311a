"""Text no view can store never gets in (422 with its field), and an event the runs projector
cannot project stops only its own run in the runs view: every other run, of every tenant,
stays current, and the operator sees the parked event in `cairn projector status`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from typer.testing import CliRunner

from commands.settings import CairnSettings
from domain.event_context import EventContext
from entrypoints.projector_cli import projection_settings, projector_app
from infra.stack.launcher import StackEndpoints
from projections.engine import operations
from projections.engine.event_source import EventSource
from projections.views.runs.projector import Runs
from tests.e2e.runs.test_intent_lifecycle import SARAH, submit, with_model_answering
from tests.integration.projections.support import cairn_env
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e

INTENT = "domain.runs.run:Run.IntentSubmitted"


def _runs(cairn: Cairn, person: Person, after: int) -> list[dict[str, Any]]:
    page = cairn.client.get("/v1/runs", headers=person.headers, params={"after": after})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def _store_poison_run(cairn: Cairn, person: Person) -> uuid.UUID:
    """An intent the runs projector cannot project: recorded by a writer whose events this
    code cannot read (no user, no text, no channel)."""
    tenant, run_id = person.session["tenant_id"], uuid.uuid4()
    state = {
        "tenant_id": {"_type_": "uuid_hex", "_data_": uuid.UUID(tenant).hex},
        "timestamp": {"_type_": "datetime_iso", "_data_": datetime.now(UTC).isoformat()},
    }
    stored = StoredEvent(run_id, 1, INTENT, json.dumps(state).encode())
    context = EventContext(tenant=tenant, actor=person.session["user_id"])
    cairn.services.runs.app.recorder.insert_events([stored], context=context)
    return run_id


def test_an_intent_no_view_can_store_is_refused_with_422(cairn: Cairn) -> None:
    ada = cairn.sign_up("nulintent")
    with_model_answering(cairn, ada, SARAH)
    refused = cairn.client.post(
        "/v1/intents",
        headers={**ada.headers, "Idempotency-Key": uuid.uuid4().hex},
        json={"text": "Schedule a meeting\x00with Sarah"},
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_failed"
    (problem,) = error["details"]["errors"]
    assert problem["location"] == ["body", "text"] and "NUL" in problem["message"]
    # Nothing was stored: the next intent is the person's only run.
    accepted = submit(cairn, ada, "Schedule a meeting with Sarah")
    assert [r["run_id"] for r in _runs(cairn, ada, accepted["position"])] == [accepted["run_id"]]


def test_a_poison_event_of_one_tenant_leaves_the_others_runs_view_current(
    cairn: Cairn, cairn_settings: CairnSettings, stack: StackEndpoints
) -> None:
    ada = cairn.sign_up("poisona")
    bea = cairn.sign_up("poisonb", email="bea@example.com", name="Bea")
    for person in (ada, bea):
        with_model_answering(cairn, person, SARAH)
    poison = _store_poison_run(cairn, ada)

    # Tenant B's runs are projected past the poison event (the wait ends: the view moved on).
    theirs = submit(cairn, bea, "Schedule a meeting with Sarah")
    assert [r["run_id"] for r in _runs(cairn, bea, theirs["position"])] == [theirs["run_id"]]
    # So are tenant A's other runs: only the poison event's own run is held back.
    mine = submit(cairn, ada, "Lunch with Sarah")
    assert [r["run_id"] for r in _runs(cairn, ada, mine["position"])] == [mine["run_id"]]
    again = submit(cairn, bea, "Dinner with Sarah")
    assert len(_runs(cairn, bea, again["position"])) == 2

    # The operator sees it: parked, with its run held, and the view otherwise current.
    settings = projection_settings(cairn_settings)
    source = EventSource(settings.event_store_env)
    try:
        (status,) = operations.status(settings, source, [Runs])
    finally:
        source.close()
    assert [h.originator_id for h in status.holds] == [str(poison)]
    assert len(status.parked) == 1 and "AttributeError" in status.parked[0].error
    shown = CliRunner().invoke(
        projector_app,
        ["status"],
        env={
            **cairn_env(stack, cairn_settings.database_url, cairn_settings.stream),
            "COLUMNS": "300",
        },
    )
    assert shown.exit_code == 1, shown.output  # something is parked
    assert "1 aggregate(s) stopped" in shown.output and str(poison) in shown.output
