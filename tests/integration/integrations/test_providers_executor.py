"""The executor with the provider adapters on a real nats-server: a dead or missing connection
escalates the run to the person with the reason, a provider's rate limit is waited out by its
own signal, a refusal fails the run without a retry, and a step creates one event."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from adapters.executor import ActionRegistry, default_registry
from adapters.integrations.providers import MemoryOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.jetstream import Factory
from commands.ports.integrations import RetryPolicy
from commands.runs.execute import execute_run
from domain.event_context import EventContext
from domain.runs.plan import Plan
from domain.runs.run import Run, RunStatus
from tests.integration.adapters.jetstream.conftest import stream_env
from tests.support.connection_tokens import FixedTokens
from tests.support.fake_google import FakeGoogle
from tests.support.fake_graph import FakeGraph

pytestmark = pytest.mark.integration

TENANT = "acme"
TOKEN = "ya29.executor-canary-0b7e"  # a canary: never in an event
MEETING = {
    "title": "Meeting with Sarah",
    "start": "2026-12-01T14:00:00+01:00",
    "end": "2026-12-01T15:00:00+01:00",
    "attendees": ["sarah@example.com"],
}
FAST = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
def app(nats_url: str, nats_monitor_url: str, unique_name: str) -> Iterator[Application[UUID]]:
    env = stream_env(nats_url, nats_monitor_url, unique_name)
    application = Application[UUID](env=env)
    yield application
    factory = application.factory
    assert isinstance(factory, Factory)
    with contextlib.suppress(Exception):
        factory.client.api(f"STREAM.DELETE.{unique_name}")
    application.close()


@pytest.fixture
def fakes() -> Iterator[tuple[FakeGoogle, FakeGraph]]:
    google = FakeGoogle({TOKEN}, deliver=lambda *_: None)
    graph = FakeGraph({TOKEN}, deliver=lambda *_: None)
    google.start()
    graph.start()
    yield google, graph
    google.stop()
    graph.stop()


@pytest.fixture
def registry() -> ActionRegistry:
    return default_registry().configured(timeout=5.0, retry=FAST)


def approved(app: Application[UUID], provider: str) -> Run:
    plan = Plan.model_validate(
        {
            "summary": "Meet Sarah",
            "steps": [
                {
                    "step_id": "s1",
                    "action": "calendar.create_event",
                    "provider": provider,
                    "parameters": MEETING,
                }
            ],
        }
    )
    run = Run(uuid4(), "Schedule a meeting with Sarah", "ada", "phone-1", "app")
    run.propose_plan(plan.model_dump(mode="json"), plan.plan_hash(), {"model": "mock"})
    run.decide("APPROVE", {"policies": ["permit-calendar"]}, str(run.plan_hash))
    app.save(run, context=EventContext(tenant=TENANT, actor="ada"))
    return run


def execute(
    app: Application[UUID],
    registry: ActionRegistry,
    fakes: tuple[FakeGoogle, FakeGraph],
    run: Run,
    tokens: FixedTokens,
    sleeps: list[float] | None = None,
) -> Run:
    google, graph = fakes
    urls = {"google": google.base_url, "microsoft": graph.base_url}
    integrations = connected_providers(urls, tokens, MemoryOutbox())
    sleep = sleeps.append if sleeps is not None else lambda _s: None
    execute_run(run.id, app, registry, integrations, TENANT, sleep=sleep)
    loaded: Run = app.repository.get(run.id)
    return loaded


def tokens() -> FixedTokens:
    return FixedTokens({"google": [TOKEN], "microsoft": [TOKEN]})


@pytest.mark.parametrize("dead", [True, False])
def test_a_dead_or_missing_connection_escalates_with_the_reason(
    app: Application[UUID],
    registry: ActionRegistry,
    fakes: tuple[FakeGoogle, FakeGraph],
    dead: bool,
) -> None:
    run = approved(app, "google")
    no_google = FixedTokens({"google": [TOKEN]}, dead={"google"}) if dead else FixedTokens({})
    done = execute(app, registry, fakes, run, no_google)
    assert done.status is RunStatus.ESCALATED and done.escalation_expires_at is not None
    step = done.steps["s1"]
    assert step["state"] == "escalated"
    code = "reauth_required" if dead else "connection_missing"
    assert step["reason"].startswith(f"needs_person: {code}")
    assert fakes[0].requests == []
    # Once the person reconnected and approved, the step is attempted again and succeeds.
    now = datetime.now(UTC)
    done.approve_escalation(str(done.plan_hash), "ada", "cred-1", {}, now)
    app.save(done, context=EventContext(tenant=TENANT, actor="ada"))
    again = execute(app, registry, fakes, run, tokens())
    assert again.status is RunStatus.COMPLETED and fakes[0].inserts == 1


def test_graph_retry_after_is_waited_out(
    app: Application[UUID], registry: ActionRegistry, fakes: tuple[FakeGoogle, FakeGraph]
) -> None:
    fakes[1].throttle_next(retry_after=2)
    sleeps: list[float] = []
    done = execute(app, registry, fakes, approved(app, "microsoft"), tokens(), sleeps)
    assert done.status is RunStatus.COMPLETED and fakes[1].creates == 1
    assert sleeps == [2.0]  # the provider's 2 s, not the policy's 0.01 s


def test_google_rate_limit_is_retried_and_a_refusal_is_not(
    app: Application[UUID], registry: ActionRegistry, fakes: tuple[FakeGoogle, FakeGraph]
) -> None:
    google = fakes[0]
    google.rate_limit_next(2, status=403, reason="userRateLimitExceeded")
    done = execute(app, registry, fakes, approved(app, "google"), tokens())
    assert done.status is RunStatus.COMPLETED and google.inserts == 1

    google.fault_next(google.error(403, "forbiddenForNonOrganizer", "no"))
    refused = execute(app, registry, fakes, approved(app, "google"), tokens())
    assert refused.status is RunStatus.FAILED and google.inserts == 1
    assert "HTTP 403 (forbiddenForNonOrganizer)" in str(refused.failure)
    assert refused.steps["s1"]["attempts"] == 1
