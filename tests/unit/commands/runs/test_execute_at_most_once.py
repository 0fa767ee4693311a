"""An upstream MCP tool takes no idempotency key (decision 0035): the executor calls it at
most once per approval. An attempt that was started and left no outcome (a crash during the
call) is never repeated by the executor alone: the step waits for the person, and once they
approve it the tool is called again, once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from adapters.executor import default_registry
from commands.mcp.upstream_actions import UNKNOWN_OUTCOME, WithUpstreamTools
from commands.ports.integrations import ErrorKind, IntegrationError
from commands.runs.execute import execute_run
from domain.event_context import EventContext
from domain.runs.plan import Plan
from domain.runs.run import Run, RunStatus

pytestmark = pytest.mark.unit
ACTION = f"mcp.{'a' * 32}.weather"


class Upstream:
    """Integrations whose upstream tool answers, or fails with an unknown outcome."""

    def __init__(self, *failures: IntegrationError) -> None:
        self.calls: list[str] = []
        self.failures = list(failures)

    def supports(self, provider: str, action: str) -> bool:
        return provider == "mcp"

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
        self.calls.append(idempotency_key)
        if self.failures:
            raise self.failures.pop(0)
        return {"id": idempotency_key, "output": "Sunny"}


def approved(app: Application[UUID]) -> Run:
    plan = Plan.model_validate(
        {
            "summary": "Weather",
            "steps": [
                {"step_id": "s1", "action": ACTION, "provider": "mcp", "parameters": {"city": "X"}}
            ],
        }
    )
    run = Run(uuid4(), "Weather in X?", "user-1", None, "app")
    run.propose_plan(plan.model_dump(mode="json"), plan.plan_hash(), {"model": "mock"})
    run.decide("APPROVE", {"policies": ["mine"]}, plan.plan_hash())
    return run


def execute(app: Application[UUID], run: Run, upstream: Upstream) -> Run:
    registry = WithUpstreamTools(default_registry())
    execute_run(run.id, app, registry, upstream, "acme", sleep=lambda _s: None)
    loaded: Any = app.repository.get(run.id)
    return loaded  # type: ignore[no-any-return]


def person_approves(app: Application[UUID], run: Run) -> None:
    fresh: Any = app.repository.get(run.id)
    fresh.approve_escalation(fresh.plan_hash, "user-1", "cred", {}, datetime.now(UTC))
    app.save(fresh, context=EventContext(tenant="acme", actor="user-1"))


def test_a_started_call_without_outcome_waits_for_the_person_then_runs_once() -> None:
    app = Application[UUID]()
    run = approved(app)
    run.start_step("s1")  # the worker recorded the start, then died during the call
    app.save(run, context=EventContext(tenant="acme", actor="executor"))
    upstream = Upstream()

    waiting = execute(app, run, upstream)
    assert upstream.calls == []  # never repeated by the executor alone
    assert waiting.status is RunStatus.ESCALATED
    assert waiting.steps["s1"]["state"] == "escalated"
    assert "no outcome" in waiting.steps["s1"]["reason"]

    person_approves(app, run)
    done = execute(app, run, upstream)
    assert done.status is RunStatus.COMPLETED
    assert len(upstream.calls) == 1


def test_a_call_the_upstream_never_confirmed_is_not_retried() -> None:
    app = Application[UUID]()
    run = approved(app)
    app.save(run, context=EventContext(tenant="acme", actor="executor"))
    unknown = IntegrationError(
        ErrorKind.NEEDS_PERSON, UNKNOWN_OUTCOME, provider="mcp", action=ACTION
    )
    upstream = Upstream(unknown)

    waiting = execute(app, run, upstream)
    assert len(upstream.calls) == 1
    assert waiting.status is RunStatus.ESCALATED
    assert "may or may not have acted" in waiting.steps["s1"]["reason"]
    person_approves(app, run)
    assert execute(app, run, upstream).status is RunStatus.COMPLETED
    assert len(upstream.calls) == 2


def test_a_failure_before_the_call_is_retried_and_a_rejection_fails_the_run() -> None:
    app = Application[UUID]()
    run = approved(app)
    app.save(run, context=EventContext(tenant="acme", actor="executor"))
    away = IntegrationError(ErrorKind.CONNECTION, "listing failed", provider="mcp", action=ACTION)
    assert execute(app, run, Upstream(away)).status is RunStatus.COMPLETED

    run = approved(app)
    app.save(run, context=EventContext(tenant="acme", actor="executor"))
    refused = IntegrationError(
        ErrorKind.REJECTED, "mcp_tool_quarantined: approve it again", provider="mcp", action=ACTION
    )
    upstream = Upstream(refused)
    failed = execute(app, run, upstream)
    assert failed.status is RunStatus.FAILED and len(upstream.calls) == 1
    assert failed.failure is not None and "mcp_tool_quarantined" in failed.failure
