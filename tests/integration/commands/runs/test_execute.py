"""Executing runs against a real nats-server and the local fake provider over real HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from adapters.executor import ActionRegistry, HttpIntegrations, default_registry
from adapters.jetstream import Factory
from commands.ports.integrations import RetryPolicy
from commands.runs.execute import execute_run
from domain.errors import InvalidTransition
from domain.event_context import EventContext
from domain.runs.plan import Plan
from domain.runs.run import PlanMismatch, Run, RunStatus, step_idempotency_key
from tests.integration.adapters.jetstream.conftest import stream_env
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.integration

TENANT = "acme"
NOW = datetime.now(UTC)
STEPS: dict[str, dict[str, Any]] = {
    "calendar.create_event": {
        "title": "Meeting with Sarah",
        "start": "2026-12-01T14:00:00+01:00",
        "end": "2026-12-01T15:00:00+01:00",
        "attendees": ["sarah@example.com"],
    },
    "email.send": {"to": ["sarah@example.com"], "subject": "Tuesday", "body": "See you at 2pm"},
    "reminders.create": {"text": "Prepare the agenda", "due": "2026-12-01T12:00:00+01:00"},
    "notes.create": {"title": "Agenda", "body": "1. Budget"},
    "payments.send": {"recipient": "Sarah", "amount": "120.00", "currency": "EUR"},
}
FAST = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.05, in_flight_patience=5.0)


@pytest.fixture
def make_app(nats_url: str, nats_monitor_url: str, unique_name: str) -> Iterator[AppMaker]:
    """Applications on this test's own stream; each has its own NATS connection, as separate
    worker processes would."""
    env = stream_env(nats_url, nats_monitor_url, unique_name)
    apps: list[Application[UUID]] = []

    def make() -> Application[UUID]:
        apps.append(Application[UUID](env=env))
        return apps[-1]

    yield make
    for app in apps:
        factory = app.factory
        assert isinstance(factory, Factory)
        with contextlib.suppress(Exception):
            factory.client.api(f"STREAM.DELETE.{unique_name}")
        app.close()


AppMaker = Callable[[], Application[UUID]]


@pytest.fixture
def app(make_app: AppMaker) -> Application[UUID]:
    return make_app()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as running:
        yield running


@pytest.fixture
def integrations(provider: FakeProvider) -> Iterator[HttpIntegrations]:
    with HttpIntegrations({"fake": provider.base_url}) as client:
        yield client


@pytest.fixture
def registry() -> ActionRegistry:
    return default_registry().configured(timeout=2.0, retry=FAST)


def planned_run(app: Application[UUID], *actions: str, provider: str = "fake") -> Run:
    plan = Plan.model_validate(
        {
            "summary": "Meet Sarah",
            "steps": [
                {"step_id": f"s{n}", "action": a, "provider": provider, "parameters": STEPS[a]}
                for n, a in enumerate(actions, start=1)
            ],
        }
    )
    run = Run(uuid4(), "Schedule a meeting with Sarah next Tuesday", "user-1", "phone-1", "app")
    run.propose_plan(plan.model_dump(mode="json"), plan.plan_hash(), {"model": "mock"})
    return run


def approved_run(app: Application[UUID], *actions: str, provider: str = "fake") -> Run:
    run = planned_run(app, *actions, provider=provider)
    run.decide("APPROVE", {"policies": ["permit-calendar"]}, str(run.plan_hash))
    save(app, run)
    return run


def save(app: Application[UUID], run: Run) -> None:
    app.save(run, context=EventContext(tenant=TENANT, actor="user-1"))


def load(app: Application[UUID], run_id: UUID) -> Run:
    run: object = app.repository.get(run_id)
    assert isinstance(run, Run)
    return run


def story(app: Application[UUID], run_id: UUID) -> list[str]:
    return [type(e).__name__ for e in app.events.get(run_id)][3:]  # after the decision


def events(app: Application[UUID], run_id: UUID, name: str) -> list[Any]:
    return [e for e in app.events.get(run_id) if type(e).__name__ == name]


def test_an_approved_plan_executes_every_step_once_and_completes(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    actions = ("calendar.create_event", "email.send", "reminders.create", "notes.create")
    run = approved_run(app, *actions)
    executed = execute_run(run.id, app, registry, integrations, TENANT)
    assert executed.position == app.recorder.max_notification_id()
    done = load(app, run.id)
    assert done.status is RunStatus.COMPLETED
    # Handed back as stored: whoever learns from the run needs no load (decision 0047).
    assert executed.run is not None and executed.run.version == done.version
    assert executed.run.status is RunStatus.COMPLETED
    assert story(app, run.id) == ["StepStarted", "StepSucceeded"] * 4 + ["RunCompleted"]
    assert [p.action for p in provider.performances] == list(actions)
    assert [p.idempotency_key for p in provider.performances] == [
        step_idempotency_key(run.id, f"s{n}") for n in (1, 2, 3, 4)
    ]
    assert {p.tenant for p in provider.performances} == {TENANT}
    assert done.steps["s2"]["result"] == {"id": "msg_2", "action": "email.send"}
    # Executing a completed run again does nothing at all (the run as it loaded it).
    again = execute_run(run.id, app, registry, integrations, TENANT)
    assert again.position is None and again.run is not None
    assert again.run.version == done.version
    assert provider.received() == 4


def test_a_run_handed_over_loaded_is_executed_without_loading_it_again(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = approved_run(app, "calendar.create_event", "notes.create")
    loaded = load(app, run.id)
    loads: list[UUID] = []
    get = app.repository.get

    def counted(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        loads.append(aggregate_id)
        return get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(app.repository, "get", counted)
    executed = execute_run(run.id, app, registry, integrations, TENANT, loaded=loaded)
    # Between its own saves the executor goes on with the run in memory, and hands it back.
    assert loads == []
    assert executed.run is loaded and loaded.status is RunStatus.COMPLETED
    assert loaded.version == load(app, run.id).version
    assert story(app, run.id) == ["StepStarted", "StepSucceeded"] * 2 + ["RunCompleted"]
    assert provider.performed() == 2


def test_a_stale_run_handed_over_is_reloaded_at_its_first_save_and_acts_once(
    make_app: AppMaker,
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    app, other = make_app(), make_app()
    run = approved_run(app, "notes.create")
    stale = load(app, run.id)
    execute_run(run.id, other, registry, integrations, TENANT)  # another worker got there first
    again = execute_run(run.id, app, registry, integrations, TENANT, loaded=stale)
    assert again.position is None
    done = load(app, run.id)
    assert done.status is RunStatus.COMPLETED
    # Not the stale copy (its refused start is in it): the run as reloaded.
    assert again.run is not stale and again.run is not None
    assert again.run.version == done.version and again.run.status is RunStatus.COMPLETED
    assert story(app, run.id) == ["StepStarted", "StepSucceeded", "RunCompleted"]
    assert provider.performed() == 1
    with pytest.raises(ValueError, match="not the run"):
        execute_run(uuid4(), app, registry, integrations, TENANT, loaded=stale)


@pytest.mark.parametrize("outcome", ["DENY", "ESCALATE"])
def test_a_run_that_is_not_approved_is_never_executed(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
    outcome: str,
) -> None:
    run = planned_run(app, "notes.create")
    run.decide(outcome, {"policies": ["forbid-all"]}, str(run.plan_hash))
    if outcome == "ESCALATE":
        run.request_escalation(NOW + timedelta(minutes=5))
    save(app, run)
    with pytest.raises(InvalidTransition):
        execute_run(run.id, app, registry, integrations, TENANT)
    assert provider.received() == 0
    assert story(app, run.id) == ([] if outcome == "DENY" else ["EscalationRequested"])


def test_an_escalation_approved_for_this_plan_is_executed_once(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    run = planned_run(app, "payments.send")
    run.decide("ESCALATE", {"policies": ["escalate-payments"]}, str(run.plan_hash))
    run.request_escalation(NOW + timedelta(minutes=5))
    run.approve_escalation(str(run.plan_hash), "user-1", "cred-1", {"signature": "x"}, NOW)
    save(app, run)
    execute_run(run.id, app, registry, integrations, TENANT)
    execute_run(run.id, app, registry, integrations, TENANT)
    assert load(app, run.id).status is RunStatus.COMPLETED
    assert provider.performed("payments.send") == 1
    assert provider.performances[0].parameters["amount"] == "120.00"


def test_a_stored_plan_that_is_not_the_decided_one_is_refused(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    run = Run(uuid4(), "Pay Sarah", "user-1", None, "app")
    plan = planned_run(app, "payments.send").plan
    assert plan is not None
    run.propose_plan(plan, "0" * 64, {"model": "mock"})  # a hash of some other plan
    run.decide("APPROVE", {}, "0" * 64)
    save(app, run)
    with pytest.raises(PlanMismatch):
        execute_run(run.id, app, registry, integrations, TENANT)
    assert provider.received() == 0


def test_a_retryable_failure_is_retried_with_the_same_key_and_acts_once(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    run = approved_run(app, "notes.create")
    provider.fail_next(2, status=503)
    execute_run(run.id, app, registry, integrations, TENANT)
    assert load(app, run.id).status is RunStatus.COMPLETED
    assert story(app, run.id) == [
        *["StepStarted", "StepFailed"] * 2,
        *["StepStarted", "StepSucceeded", "RunCompleted"],
    ]
    assert provider.received() == 3
    assert provider.performed() == 1
    keys = {e.idempotency_key for e in events(app, run.id, "StepStarted")}
    assert keys == {step_idempotency_key(run.id, "s1")}


def test_a_non_retryable_failure_fails_the_run_with_a_clear_reason(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    run = approved_run(app, "notes.create", "email.send")
    provider.fail_next(1, status=400)
    execute_run(run.id, app, registry, integrations, TENANT)
    failed = load(app, run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.failure == (
        "step s1 (notes.create at fake) failed after 1 attempt: "
        "rejected: HTTP 400 (injected_failure)"
    )
    assert failed.steps["s1"]["retryable"] is False
    assert story(app, run.id) == ["StepStarted", "StepFailed", "RunFailed"]
    assert provider.received() == 1  # the email was never attempted
    with pytest.raises(InvalidTransition):
        execute_run(run.id, app, registry, integrations, TENANT)


def test_retries_that_run_out_fail_the_run(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    run = approved_run(app, "notes.create")
    provider.fail_next(5, status=503)
    execute_run(run.id, app, registry, integrations, TENANT)
    failed = load(app, run.id)
    assert failed.status is RunStatus.FAILED
    assert "after 3 attempts: server_error: HTTP 503" in str(failed.failure)
    assert provider.received() == 3
    assert provider.performed() == 0


def test_a_timeout_is_retried(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    run = approved_run(app, "reminders.create")
    provider.hang_next(1, seconds=3.0)  # then dropped: the provider never acted on it
    execute_run(run.id, app, registry.configured(timeout=0.3), integrations, TENANT)
    done = load(app, run.id)
    assert done.status is RunStatus.COMPLETED
    assert story(app, run.id) == [
        *["StepStarted", "StepFailed"],
        *["StepStarted", "StepSucceeded", "RunCompleted"],
    ]
    (failure,) = events(app, run.id, "StepFailed")
    assert failure.error == "timeout: fake did not answer within 0.3 s"
    assert failure.retryable is True
    assert provider.performed() == 1


def test_a_timeout_after_the_provider_acted_gets_the_first_result(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    registry: ActionRegistry,
) -> None:
    run = approved_run(app, "email.send")
    provider.hang_next(1, seconds=0.6, perform=True)  # acts after the executor gave up
    execute_run(run.id, app, registry.configured(timeout=0.2), integrations, TENANT)
    done = load(app, run.id)
    assert done.status is RunStatus.COMPLETED
    assert provider.performed() == 1  # the retry waited while the key was in flight
    assert done.steps["s1"]["result"] == {"id": "msg_1", "action": "email.send"}


@pytest.mark.parametrize(
    ("provider_name", "reason"),
    [
        ("nowhere", "step s2: notes.create at 'nowhere' is not connected"),
        ("fake", "step s2: no handler for action 'notes.create'"),
    ],
)
def test_a_step_that_cannot_be_performed_fails_the_run_before_anything_acts(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    provider_name: str,
    reason: str,
) -> None:
    run = planned_run(app, "email.send", "notes.create")
    assert run.plan is not None
    run.plan["steps"][1]["provider"] = provider_name
    plan = Plan.model_validate(run.plan)
    run = Run(uuid4(), "Mail and note", "user-1", None, "app")
    run.propose_plan(plan.model_dump(mode="json"), plan.plan_hash(), {"model": "mock"})
    run.decide("APPROVE", {}, plan.plan_hash())
    save(app, run)
    # With the fake provider, the registry lacks the second step's action instead.
    registry = (
        ActionRegistry([default_registry().get("email.send")])
        if provider_name == "fake"
        else default_registry()
    )
    execute_run(run.id, app, registry, integrations, TENANT)
    failed = load(app, run.id)
    assert (failed.status, failed.failure) == (RunStatus.FAILED, reason)
    assert story(app, run.id) == ["RunFailed"]
    assert provider.received() == 0


def test_events_are_recorded_for_the_tenant_by_the_executor_in_the_callers_context(
    app: Application[UUID],
    integrations: HttpIntegrations,
    registry: ActionRegistry,
    unique_name: str,
) -> None:
    run = approved_run(app, "notes.create", "email.send")
    # A command id in the caller's context must not be reused for the executor's many saves.
    caused_by = EventContext(correlation_id="corr-7", command_id="approve-cmd-1")
    execute_run(run.id, app, registry, integrations, TENANT, context=caused_by)
    assert load(app, run.id).status is RunStatus.COMPLETED
    factory = app.factory
    assert isinstance(factory, Factory)
    subject = f"{unique_name}.{TENANT}.Run.{run.id}"
    msg = factory.client.direct_get(unique_name, {"last_by_subj": subject})
    assert msg is not None and msg.headers is not None
    assert msg.headers["Cairn-Topic"].endswith("Run.RunCompleted")
    assert msg.headers["Cairn-Actor"] == "executor"
    assert msg.headers["Cairn-Correlation-Id"] == "corr-7"
    assert "Cairn-Command-Id" not in msg.headers
