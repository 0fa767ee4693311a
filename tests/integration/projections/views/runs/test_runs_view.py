"""The runs view holds what the Run aggregate says, for every kind of run event: a run read
from the view equals the same run replayed from the store (plan, decision, steps with retries,
failure, escalation, timeline), including text PostgreSQL cannot store as it is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from domain.errors import NotFound
from domain.event_context import EventContext
from domain.runs.run import Run
from projections.engine import generations
from projections.engine.batch_processor import BatchProcessor
from projections.engine.event_source import EventSource
from projections.engine.projector_host import ProjectorHost
from projections.engine.view_recorder import ViewRecorder, datastore
from projections.settings import ProjectionSettings
from projections.views.runs.projector import Runs
from projections.views.runs.queries import get_run, list_runs
from tests.integration.projections.support import NOTE_PLAN, admin, differences
from tests.support.runs import replayed_run

pytestmark = pytest.mark.integration

TENANT = uuid.uuid4()
USER = str(uuid.uuid4())
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HASH = NOTE_PLAN.plan_hash()
PLAN = NOTE_PLAN.model_dump(mode="json")


def _run(text: str = "note: buy milk") -> Run:
    return Run(uuid.uuid4(), text, USER, "d1", "app", tenant_id=TENANT)


def _decided(outcome: str) -> Run:
    run = _run()
    run.propose_plan(PLAN, HASH, {"tokens": 3})
    run.decide(outcome, {"policies": ["p1"], "input": {"at": NOW.isoformat()}}, HASH)
    return run


def _every_kind() -> list[Run]:
    retried = _decided("APPROVE")
    retried.start_step("s1")
    retried.fail_step("s1", "provider timeout", retryable=True)
    retried.start_step("s1")
    retried.succeed_step("s1", {"id": "evt-1", "nested": {"n": 1}})
    retried.complete()
    approved = _decided("ESCALATE")
    approved.request_escalation(NOW + timedelta(minutes=15))
    approved.approve_escalation(HASH, USER, "cred", {"sig": "x"}, NOW)
    approved.start_step("s1")
    approved.fail_step("s1", "refused", retryable=False)
    approved.fail("step s1 failed")
    expired = _decided("ESCALATE")
    expired.request_escalation(NOW)
    expired.expire_escalation(NOW)
    denied = _decided("ESCALATE")
    denied.request_escalation(NOW + timedelta(minutes=1))
    denied.deny_escalation(USER, "no", NOW)
    refused = _decided("DENY")
    cancelled = _run()
    cancelled.cancel(USER)
    # A NUL character in the intent, the plan and a provider's answer: PostgreSQL refuses it
    # in text and jsonb, and the shared projector must not stop for it.
    nul_plan = {**PLAN, "summary": "a\x00b"}
    poisoned = _run("note:\x00 milk")
    poisoned.propose_plan(nul_plan, HASH, {})
    poisoned.decide("APPROVE", {}, HASH)
    poisoned.start_step("s1")
    poisoned.succeed_step("s1", {"body": "x\x00y"})
    poisoned.complete()
    return [retried, approved, expired, denied, refused, cancelled, poisoned]


def _nul_as_replacement(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {k: _nul_as_replacement(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nul_as_replacement(v) for v in value]
    return value


def test_each_run_in_the_view_equals_its_replay(
    store: Application[uuid.UUID], settings: ProjectionSettings, pool: ConnectionPool[Any]
) -> None:
    runs = _every_kind()
    context = EventContext(tenant=str(TENANT), actor=USER)
    position = max(r.notification.id for r in store.save(*runs, context=context))
    with ProjectorHost(settings, [Runs]):
        views = {r.id: get_run(pool, TENANT, USER, str(r.id), after=position) for r in runs}
        inbox = list_runs(pool, TENANT, USER, status="escalated", after=position)
    statuses = [views[r.id]["status"] for r in runs]
    assert statuses == [
        "completed",
        "failed",
        "expired",
        "denied",
        "denied",
        "cancelled",
        "completed",
    ]
    assert views[runs[0].id]["steps"]["s1"]["attempts"] == 2
    for run in runs:
        view = dict(views[run.id])
        assert view.pop("position") >= position
        assert view == _nul_as_replacement(replayed_run(store, run.id)), run.text
    assert "\ufffd" in views[runs[-1].id]["text"]
    assert inbox.items == []  # the expired and the denied escalation both left the inbox


def test_another_persons_or_tenants_run_is_not_found(
    store: Application[uuid.UUID], settings: ProjectionSettings, pool: ConnectionPool[Any]
) -> None:
    run = _run()
    context = EventContext(tenant=str(TENANT), actor=USER)
    position = max(r.notification.id for r in store.save(run, context=context))
    with ProjectorHost(settings, [Runs]):
        assert get_run(pool, TENANT, USER, str(run.id), after=position)["status"] == "submitted"
        for tenant, user in ((TENANT, str(uuid.uuid4())), (uuid.uuid4(), USER)):
            with pytest.raises(NotFound):
                get_run(pool, tenant, user, str(run.id), after=position)


def test_the_rows_are_the_same_whether_a_runs_events_come_together_or_one_by_one(
    store: Application[uuid.UUID], settings: ProjectionSettings, source: EventSource
) -> None:
    """A batch writes each run's events together (decision 0050): projecting the same events
    one per batch, in batches that split runs, or all in one batch gives the same rows, as a
    rebuild does."""
    context = EventContext(tenant=str(TENANT), actor=USER)
    for run in _every_kind():
        store.save(run, context=context)
    store.save(*_every_kind(), context=context)
    notifications = list(source.recorder.select_notifications(1, 10_000))
    views = ViewRecorder(datastore(settings.database_url))
    try:
        with admin(settings.database_url) as conn:
            one_by_one = generations.ensure_active(conn, Runs, settings.source).generation
        _project(one_by_one, 1, notifications, source, views)
        for size in (3, len(notifications)):
            with admin(settings.database_url) as conn:
                number = generations.building(conn, Runs, settings.source, fresh=True).generation
            _project(number, size, notifications, source, views)
            with admin(settings.database_url) as conn:
                assert differences(conn, Runs, one_by_one, number) == {"runs": (14, 14, 0)}
    finally:
        views.datastore.close()


def _project(
    number: int, size: int, notifications: list[Any], source: EventSource, views: ViewRecorder
) -> None:
    processor = BatchProcessor(Runs(number), source.decode, views, "stop", 0)
    for i in range(0, len(notifications), size):
        assert processor.process(notifications[i : i + size]) is None
