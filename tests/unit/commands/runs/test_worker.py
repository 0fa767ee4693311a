"""Given/When/Then: which step a run's state allows, and what each run event asks of a worker.
No I/O: the runs are kept by the library's in-memory (POPO) store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import uuid4

import pytest

from commands.identity.context import IdentityPorts
from commands.ports.planner import ContextProvider, Planner
from commands.ports.policy import PolicyEngine
from commands.ports.timers import ESCALATION_EXPIRY, Timer
from commands.runs.pipeline import PipelinePorts, Step, next_step
from commands.runs.policies import RunsApplication
from commands.runs.worker import CARRIED_MARK, RunEvent, RunWorker, asks_for_work
from domain.runs.run import Run, RunStatus
from tests.unit.domain.runs.test_run import PLAN

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TENANT = uuid4()


class MemoryTimers:
    def __init__(self) -> None:
        self.set: list[Timer] = []

    def schedule(self, timer: Timer) -> None:
        self.set.append(timer)

    def fire_due(self, now: datetime, fire: Callable[[Timer], None], limit: int = 50) -> int:
        raise NotImplementedError

    def next_due(self) -> datetime | None:
        return None


def given_run() -> Run:
    return Run(uuid4(), "Meet Sarah", "user-1", "device-1", "app", tenant_id=TENANT)


def planned(run: Run) -> Run:
    run.propose_plan(PLAN.model_dump(mode="json"), PLAN.plan_hash(), {})
    return run


def escalated(run: Run, expires_at: datetime) -> Run:
    planned(run).decide("ESCALATE", {}, PLAN.plan_hash())
    run.request_escalation(expires_at)
    return run


def ports_for(app: RunsApplication, clock: datetime = NOW) -> PipelinePorts:
    nothing: Any = object()  # touched only by planning or deciding, which no test here reaches
    return PipelinePorts(
        runs=app,
        identity=cast(IdentityPorts, nothing),
        planner=cast(Planner, nothing),
        policy=cast(PolicyEngine, nothing),
        context=cast(ContextProvider, nothing),
        clock=lambda: clock,
    )


def test_each_state_allows_its_one_step() -> None:
    run = given_run()
    assert next_step(run, NOW) is Step.PLAN
    planned(run)
    assert next_step(run, NOW) is Step.DECIDE
    run.decide("APPROVE", {}, PLAN.plan_hash())
    assert next_step(run, NOW) is Step.EXECUTE
    run.start_step("s1")
    assert next_step(run, NOW) is Step.EXECUTE


def test_an_escalation_waits_for_the_person_until_it_is_due() -> None:
    run = escalated(given_run(), NOW + timedelta(minutes=15))
    assert next_step(run, NOW) is None
    assert next_step(run, NOW + timedelta(minutes=15)) is Step.EXPIRE


@pytest.mark.parametrize("end", ["cancel", "deny", "fail"])
def test_an_ended_run_allows_nothing(end: str) -> None:
    run = escalated(given_run(), NOW + timedelta(minutes=15))
    if end == "cancel":
        run.cancel("user-1")
    elif end == "deny":
        run.deny_escalation("user-1", "no", NOW)
    else:
        run.fail("broken")
    assert next_step(run, NOW + timedelta(days=1)) is None


def test_an_escalation_requested_sets_its_expiry_timer() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW + timedelta(minutes=15))
    app.save(run)
    timers = MemoryTimers()
    worker = RunWorker(ports_for(app), timers)
    assert worker.on_event(RunEvent(TENANT, run.id, "EscalationRequested")) is None
    assert timers.set == [Timer(ESCALATION_EXPIRY, run.id, TENANT, NOW + timedelta(minutes=15))]


def test_an_escalation_answered_before_its_event_arrives_sets_no_timer() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW + timedelta(minutes=15))
    run.deny_escalation("user-1", "no", NOW)
    app.save(run)
    timers = MemoryTimers()
    RunWorker(ports_for(app), timers).on_event(RunEvent(TENANT, run.id, "EscalationRequested"))
    assert timers.set == []


@pytest.mark.parametrize(
    "name", ["StepStarted", "StepSucceeded", "StepFailed", "RunCompleted", "RunCancelled"]
)
def test_events_of_a_step_in_progress_or_an_end_ask_for_nothing_and_load_nothing(
    name: str,
) -> None:
    app = RunsApplication()  # empty: any load would fail with AggregateNotFoundError
    worker = RunWorker(ports_for(app), MemoryTimers())
    assert worker.on_event(RunEvent(TENANT, uuid4(), name)) is None


def test_a_due_expiry_timer_expires_the_escalation_once() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW)
    app.save(run)
    worker = RunWorker(ports_for(app, clock=NOW), MemoryTimers())
    timer = Timer(ESCALATION_EXPIRY, run.id, TENANT, NOW)
    taken = worker.on_timer(timer)
    assert taken is not None and taken.step is Step.EXPIRE and not taken.raced
    stored: Any = app.repository.get(run.id)
    assert stored.status is RunStatus.EXPIRED
    # Fired again (a second worker, a retry): nothing left to do, nothing recorded.
    again = worker.on_timer(timer)
    assert again is not None and again.step is None
    assert app.repository.get(run.id).version == stored.version


def test_an_early_timer_records_nothing() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW + timedelta(minutes=1))
    app.save(run)
    taken = RunWorker(ports_for(app, clock=NOW), MemoryTimers()).on_timer(
        Timer(ESCALATION_EXPIRY, run.id, TENANT, NOW)
    )
    assert taken is not None and taken.step is None
    stored: Any = app.repository.get(run.id)
    assert stored.status is RunStatus.ESCALATED


def test_a_stuck_run_is_failed_with_the_reason() -> None:
    app = RunsApplication()
    run = given_run()
    app.save(run)
    worker = RunWorker(ports_for(app), MemoryTimers())
    worker.fail_stuck(RunEvent(TENANT, run.id, "IntentSubmitted"), 5, "KeyError")
    stored: Any = app.repository.get(run.id)
    assert stored.status is RunStatus.FAILED
    assert stored.failure == "internal_error: advancing the run failed 5 times (KeyError)"


@pytest.mark.parametrize("name", ["PlanProposed", "PolicyDecided"])
def test_a_plan_or_decision_saved_by_a_worker_carrying_its_run_on_asks_for_nothing(
    name: str,
) -> None:
    app = RunsApplication()  # empty: any load would fail with AggregateNotFoundError
    worker = RunWorker(ports_for(app), MemoryTimers())
    event = RunEvent(TENANT, uuid4(), name, cause=f"{CARRIED_MARK}41", position=42)
    assert not asks_for_work(name, event.cause)
    assert worker.on_event(event) is None


def test_a_plan_saved_one_step_per_event_still_wakes_a_worker() -> None:
    # Saved by a worker before runs were carried on: no mark, so nobody holds the run.
    assert asks_for_work("PlanProposed", None)
    assert asks_for_work("PolicyDecided", "some-request-id")


def test_a_worker_carries_a_due_run_on_and_reports_each_stored_step() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW)
    app.save(run)
    saved: list[Step] = []
    worker = RunWorker(ports_for(app, clock=NOW), MemoryTimers(), took=saved.append)
    taken = worker.on_event(RunEvent(TENANT, run.id, "EscalationApproved", position=7))
    # Expired (a final state): nothing after it, each step reported once it was stored.
    assert taken is not None and taken.steps == (Step.EXPIRE,)
    assert saved == [Step.EXPIRE]
    stored: Any = app.repository.get(run.id)
    assert stored.status is RunStatus.EXPIRED
