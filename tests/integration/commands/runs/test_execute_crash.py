"""Exactly once at the provider when the executor crashes anywhere, or races another worker.

Crashes are simulated two ways: in-process, a `BaseException` (which no handler catches, like
the process dying) raised right before or right after the provider call; and for real, a worker
subprocess killed with SIGKILL while the provider holds its request. Run as a script, this file
is that worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from adapters.executor import ActionRegistry, HttpIntegrations, default_registry
from adapters.jetstream import Factory
from commands.ports.integrations import RetryPolicy
from commands.runs.execute import execute_run
from domain.event_context import EventContext
from domain.runs.plan import Plan
from domain.runs.run import Run, RunStatus, step_idempotency_key
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.integration

TENANT = "acme"
REPO = Path(__file__).resolve().parents[4]
STEPS: dict[str, dict[str, Any]] = {
    "calendar.create_event": {
        "title": "Meeting with Sarah",
        "start": "2026-12-01T14:00:00+01:00",
        "end": "2026-12-01T15:00:00+01:00",
    },
    "email.send": {"to": ["sarah@example.com"], "subject": "Tuesday", "body": "See you at 2pm"},
    "notes.create": {"title": "Agenda", "body": "1. Budget"},
}
FAST = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.05, in_flight_patience=10.0)


def registry() -> ActionRegistry:
    return default_registry().configured(timeout=5.0, retry=FAST)


AppMaker = Callable[[], Application[UUID]]


@pytest.fixture
def app_env(nats_url: str, nats_monitor_url: str, unique_name: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "adapters.jetstream",
        "NATS_URL": nats_url,
        "NATS_MONITOR_URL": nats_monitor_url,
        "NATS_STREAM": unique_name,
        "NATS_SUBJECT_PREFIX": unique_name,
    }


@pytest.fixture
def make_app(app_env: dict[str, str], unique_name: str) -> Iterator[AppMaker]:
    """Applications on this test's stream, each with its own NATS connection and its own
    writer index, as separate worker processes would have."""
    apps: list[Application[UUID]] = []

    def make() -> Application[UUID]:
        apps.append(Application[UUID](env=app_env))
        return apps[-1]

    yield make
    for app in apps:
        factory = app.factory
        assert isinstance(factory, Factory)
        with contextlib.suppress(Exception):
            factory.client.api(f"STREAM.DELETE.{unique_name}")
        app.close()


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


def approved_run(app: Application[UUID], *actions: str) -> Run:
    plan = Plan.model_validate(
        {
            "summary": "Meet Sarah",
            "steps": [
                {"step_id": f"s{n}", "action": a, "provider": "fake", "parameters": STEPS[a]}
                for n, a in enumerate(actions, start=1)
            ],
        }
    )
    run = Run(uuid4(), "Schedule a meeting with Sarah next Tuesday", "user-1", None, "app")
    run.propose_plan(plan.model_dump(mode="json"), plan.plan_hash(), {"model": "mock"})
    run.decide("APPROVE", {"policies": ["permit-calendar"]}, plan.plan_hash())
    app.save(run, context=EventContext(tenant=TENANT, actor="user-1"))
    return run


def load(app: Application[UUID], run_id: UUID) -> Run:
    run: object = app.repository.get(run_id)
    assert isinstance(run, Run)
    return run


def story(app: Application[UUID], run_id: UUID) -> list[str]:
    return [type(e).__name__ for e in app.events.get(run_id)][3:]  # after the decision


def events(app: Application[UUID], run_id: UUID, name: str) -> list[Any]:
    return [e for e in app.events.get(run_id) if type(e).__name__ == name]


class Crash(BaseException):
    """The worker dies here: nothing in the executor catches a BaseException."""


@dataclass
class CrashingIntegrations:
    """Forwards to the real client, and dies right before or right after the n-th call."""

    inner: HttpIntegrations
    when: str  # "before" or "after" the provider call
    on_call: int
    calls: int = 0

    def supports(self, provider: str, action: str) -> bool:
        return self.inner.supports(provider, action)

    def perform(
        self,
        tenant: str,
        provider: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
        person: str | None = None,
    ) -> dict[str, Any]:
        self.calls += 1
        if self.calls == self.on_call and self.when == "before":
            raise Crash
        result = self.inner.perform(
            tenant, provider, action, parameters, idempotency_key, timeout=timeout
        )
        if self.calls == self.on_call and self.when == "after":
            raise Crash
        return result


@pytest.mark.parametrize("on_call", [1, 2])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_around_the_provider_call_then_a_rerun_acts_once(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    when: str,
    on_call: int,
) -> None:
    run = approved_run(app, "calendar.create_event", "email.send")
    crashing = CrashingIntegrations(integrations, when, on_call)
    with pytest.raises(Crash):
        execute_run(run.id, app, registry(), crashing, TENANT)
    crashed = load(app, run.id)
    assert crashed.status is RunStatus.EXECUTING
    assert story(app, run.id)[-1] == "StepStarted"  # recorded before the call, no outcome
    assert provider.performed() == on_call - (when == "before")

    execute_run(run.id, app, registry(), integrations, TENANT)  # a restarted worker

    assert load(app, run.id).status is RunStatus.COMPLETED
    assert provider.performed("calendar.create_event") == 1
    assert provider.performed("email.send") == 1
    started = events(app, run.id, "StepStarted")
    crashed_step = f"s{on_call}"
    assert [e.idempotency_key for e in started if e.step_id == crashed_step] == [
        step_idempotency_key(run.id, crashed_step)
    ] * 2  # the resumed attempt reused the key


@pytest.mark.parametrize("provider_acts_later", [False, True])
def test_a_worker_killed_during_the_provider_call_then_a_rerun_acts_once(
    app: Application[UUID],
    app_env: dict[str, str],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    provider_acts_later: bool,
) -> None:
    run = approved_run(app, "notes.create")
    # The provider holds the worker's request; it then drops it, or performs it after the
    # worker died (its key in flight until then).
    provider.hang_next(1, seconds=30.0, perform=provider_acts_later)
    config = {"env": app_env, "provider": provider.base_url, "run_id": str(run.id)}
    worker = subprocess.Popen(
        [sys.executable, __file__, json.dumps(config)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        provider.wait_until(lambda: provider.received() == 1, timeout=30.0)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert worker.returncode == -signal.SIGKILL
    assert story(app, run.id) == ["StepStarted"]
    provider.release()

    execute_run(run.id, app, registry(), integrations, TENANT)

    assert load(app, run.id).status is RunStatus.COMPLETED
    assert provider.performed() == 1
    assert {p.idempotency_key for p in provider.performances} == {
        step_idempotency_key(run.id, "s1")
    }


def test_workers_executing_one_run_concurrently_act_once(
    make_app: AppMaker, provider: FakeProvider
) -> None:
    provider.latency = 0.05  # each action takes a while, so the workers overlap at the provider
    actions = ("calendar.create_event", "email.send", "notes.create")
    run = approved_run(make_app(), *actions)
    workers = 4
    apps = [make_app() for _ in range(workers)]
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def work(worker_app: Application[UUID]) -> None:
        with HttpIntegrations({"fake": provider.base_url}) as client:
            barrier.wait()
            try:
                execute_run(run.id, worker_app, registry(), client, TENANT)
                outcomes.append("ok")
            except Exception as exc:  # any error is a failure of the test
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=work, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == ["ok"] * workers
    checker = make_app()
    assert load(checker, run.id).status is RunStatus.COMPLETED
    for action in actions:
        assert provider.performed(action) == 1
    names = story(checker, run.id)
    assert names.count("RunCompleted") == 1
    assert names.count("StepSucceeded") == len(actions)
    # Every worker may record its own start of a step; all of them carry the step's one key.
    started = events(checker, run.id, "StepStarted")
    assert {(e.step_id, e.idempotency_key) for e in started} == {
        (f"s{n}", step_idempotency_key(run.id, f"s{n}")) for n in (1, 2, 3)
    }


@pytest.mark.parametrize("crashed_after", ["StepFailed", "StepSucceeded", "max_starts"])
def test_a_rerun_finishes_what_a_crash_left_without_calling_the_provider(
    app: Application[UUID],
    provider: FakeProvider,
    integrations: HttpIntegrations,
    crashed_after: str,
) -> None:
    run = approved_run(app, "notes.create")
    if crashed_after == "StepFailed":  # a final failure, but no RunFailed yet
        run.start_step("s1")
        run.fail_step("s1", "rejected: HTTP 403", retryable=False)
    elif crashed_after == "StepSucceeded":  # every step done, but no RunCompleted yet
        run.start_step("s1")
        run.succeed_step("s1", {"id": "note_9"})
    else:  # started again and again, never an outcome: each attempt killed its worker
        for _ in range(FAST.max_starts):
            run.start_step("s1")
    app.save(run, context=EventContext(tenant=TENANT))

    execute_run(run.id, app, registry(), integrations, TENANT)

    done = load(app, run.id)
    assert provider.received() == 0
    if crashed_after == "StepSucceeded":
        assert done.status is RunStatus.COMPLETED
    else:
        assert done.status is RunStatus.FAILED
        assert str(done.failure).startswith("step s1 (notes.create at fake) failed: ")
        key = step_idempotency_key(run.id, "s1")
        assert str(done.failure).endswith(
            "rejected: HTTP 403"
            if crashed_after == "StepFailed"
            else f"started 10 times without an outcome (key {key})"
        )


def _worker(config: dict[str, Any]) -> None:
    """A worker process: execute one run (until the test kills it)."""
    app = Application[UUID](env=config["env"])
    with HttpIntegrations({"fake": config["provider"]}) as client:
        execute_run(UUID(config["run_id"]), app, registry(), client, TENANT)


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
