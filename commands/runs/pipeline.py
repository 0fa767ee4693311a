"""Moves a run forward: the model proposes, the policy decides, the executor acts.

`advance` is safe to call any number of times, from any worker: each step looks at the run's
stored state, does the one thing that state allows, and saves; the store's optimistic
concurrency makes a second worker's identical step fail instead of doubling it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.base import Caller
from commands.identity.context import IdentityPorts
from commands.ports.planner import ContextProvider, Planner, PlannerFailure, RoutingPreference
from commands.ports.policy import PolicyEngine
from commands.runs.policies import RunsApplication, current_policies
from commands.runs.provider_keys import configured_providers, leased_keys
from domain.event_context import event_context
from domain.policy.model import Principal
from domain.runs.plan import Plan
from domain.runs.run import Run, RunStatus

WORKER = "cairn-worker"


@dataclass(frozen=True)
class PipelinePorts:
    runs: RunsApplication
    identity: IdentityPorts
    planner: Planner
    policy: PolicyEngine
    context: ContextProvider
    # Executes an approved run's steps (the executor); None leaves approved runs waiting.
    execute: Callable[[UUID, UUID], int | None] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    escalation_ttl: timedelta = timedelta(minutes=15)


def _save(ports: PipelinePorts, run: Run, tenant_id: UUID) -> None:
    with event_context(tenant=str(tenant_id), actor=WORKER, correlation_id=str(run.id)):
        ports.runs.save(run)


def _load(ports: PipelinePorts, run_id: UUID) -> Run:
    run: object = ports.runs.repository.get(run_id)
    assert isinstance(run, Run)
    return run


def plan(run: Run, tenant_id: UUID, ports: PipelinePorts) -> None:
    vault = ports.identity.vault
    keys = leased_keys(vault, tenant_id, configured_providers(vault, tenant_id))
    context = ports.context.planning_context(
        tenant_id=tenant_id, user_id=run.user_id, intent_text=run.text
    )
    try:
        proposed = ports.planner.propose(run.text, context, keys, RoutingPreference())
    except PlannerFailure as failure:
        # An invalid or unknown action is never executed: the run fails with the reason.
        run.fail(f"{failure.code}: {failure.message}")
        return
    run.propose_plan(
        proposed.plan.model_dump(mode="json"),
        proposed.plan.plan_hash(),
        proposed.usage.model_dump(mode="json"),
    )


def decide(run: Run, tenant_id: UUID, ports: PipelinePorts) -> None:
    assert run.plan is not None and run.plan_hash is not None
    user = ports.identity.get_user(run.user_id, tenant_id)
    caller = Caller(
        tenant_id=tenant_id,
        user_id=run.user_id,
        device_id=run.device_id,
        capabilities=tuple(user.capabilities),
    )
    policies = current_policies(caller, ports.runs, ports.policy)
    principal = Principal(tenant_id=str(tenant_id), user_id=run.user_id, device_id=run.device_id)
    moment = ports.clock()
    decision = ports.policy.evaluate(
        Plan.model_validate(run.plan),
        principal,
        user.capabilities,
        lambda: moment,
        policies.text,
    )
    record = decision.model_dump(mode="json")
    record.pop("outcome", None)
    run.decide(decision.outcome.value, record, run.plan_hash)
    if decision.outcome.value == "ESCALATE":
        run.request_escalation(moment + ports.escalation_ttl)


def advance(run_id: UUID, tenant_id: UUID, ports: PipelinePorts) -> RunStatus:
    """Take every step the run's state allows now; return where it stopped."""
    for _ in range(4):
        run = _load(ports, run_id)
        if run.status is RunStatus.SUBMITTED:
            plan(run, tenant_id, ports)
        elif run.status is RunStatus.PLANNED and run.decision is None:
            decide(run, tenant_id, ports)
        elif run.status is RunStatus.ESCALATED and ports.clock() >= _expiry(run):
            run.expire_escalation(ports.clock())
        elif run.status in (RunStatus.APPROVED, RunStatus.EXECUTING) and ports.execute:
            with event_context(tenant=str(tenant_id), correlation_id=str(run_id)):
                ports.execute(run_id, tenant_id)
            return _load(ports, run_id).status
        else:
            return run.status
        try:
            _save(ports, run, tenant_id)
        except IntegrityError:
            continue  # another worker moved it first: look again
    return _load(ports, run_id).status


def _expiry(run: Run) -> datetime:
    assert run.escalation_expires_at is not None
    return run.escalation_expires_at
