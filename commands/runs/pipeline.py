"""Moves a run forward: the model proposes, the policy decides, the executor acts.

`take_step` is safe to call any number of times, from any worker: it loads the run once, does
the one thing its stored state allows, and saves; the store's optimistic concurrency makes a
second worker's identical step fail instead of doubling it. With `carry_on` it goes on with
the run in memory until the run waits for something outside (the person, a timer) or ends,
saving plan and decision with the next save: a worker holding the event that started it takes
the whole run from one pick-up (docs/decisions/0021-a-run-from-one-pick-up.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.base import Caller
from commands.identity.context import IdentityPorts
from commands.ports.planner import ContextProvider, Planner, PlannerFailure, RoutingPreference
from commands.ports.policy import PolicyEngine
from commands.runs.people import People
from commands.runs.policies import RunsApplication, current_layers
from commands.runs.provider_keys import RECORD_PREFIX, stored_keys
from domain.event_context import EventContext
from domain.policy.inputs import UnknownUpstreamTool
from domain.policy.model import Principal, UpstreamTool
from domain.runs.actions import InvalidParameters
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
    # Executes an approved run's steps (the executor), given the run as just loaded (its
    # unsaved events, if any, go with the executor's first save), its tenant and the causation
    # id to record, and returns the run as it left it in the store (None: not known); None
    # leaves approved runs waiting.
    execute: Callable[[Run, UUID, str | None], Run | None] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    escalation_ttl: timedelta = timedelta(minutes=15)
    # The policy's facts of the upstream MCP tools a plan names (commands/mcp/
    # upstream_actions.py); None: no upstream tools here, a plan naming one fails.
    upstream_tools: Callable[[UUID, str, Plan], Mapping[str, UpstreamTool]] | None = None
    # The capabilities of the people whose runs are decided here, checked against the store
    # on every decision rather than replayed (decision 0051).
    people: People = field(default_factory=People)


def save_run(ports: PipelinePorts, run: Run, tenant_id: UUID, cause: str | None = None) -> None:
    context = EventContext(
        tenant=str(tenant_id), actor=WORKER, correlation_id=str(run.id), causation_id=cause
    )
    ports.runs.save(run, context=context)


def load_run(ports: PipelinePorts, run_id: UUID) -> Run:
    run: object = ports.runs.repository.get(run_id)
    assert isinstance(run, Run)
    return run


def plan(run: Run, tenant_id: UUID, ports: PipelinePorts) -> None:
    # The model keys come with the context's read where it can carry them (decision 0056).
    inputs = ports.context.plan_inputs(
        tenant_id=tenant_id, user_id=run.user_id, intent_text=run.text, secrets_prefix=RECORD_PREFIX
    )
    context = inputs.context
    keys = stored_keys(ports.identity.vault, tenant_id, inputs.secrets)
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
        list(context.given),
    )


def decide(run: Run, tenant_id: UUID, ports: PipelinePorts) -> None:
    assert run.plan is not None and run.plan_hash is not None
    capabilities = ports.people.capabilities(ports.identity, run.user_id, tenant_id)
    caller = Caller(
        tenant_id=tenant_id,
        user_id=run.user_id,
        device_id=run.device_id,
        capabilities=capabilities,
    )
    policies, guardrails = current_layers(caller, ports.runs, ports.policy)
    principal = Principal(tenant_id=str(tenant_id), user_id=run.user_id, device_id=run.device_id)
    moment = ports.clock()
    plan = Plan.model_validate(run.plan)
    try:
        upstream = (
            ports.upstream_tools(tenant_id, run.user_id, plan) if ports.upstream_tools else {}
        )
        decision = ports.policy.evaluate(
            plan,
            principal,
            capabilities,
            lambda: moment,
            policies.text,
            guardrails.text,
            upstream=upstream,
        )
    except (UnknownUpstreamTool, InvalidParameters) as refused:
        # A tool that is not the person's, or arguments outside its pinned schema: never
        # decided, never called.
        run.fail(f"{refused.code}: {refused.message}")
        return
    record = decision.model_dump(mode="json")
    record.pop("outcome", None)
    run.decide(decision.outcome.value, record, run.plan_hash)
    if decision.outcome.value == "ESCALATE":
        run.request_escalation(moment + ports.escalation_ttl)


class Step(StrEnum):
    PLAN = "plan"
    DECIDE = "decide"
    EXPIRE = "expire"
    EXECUTE = "execute"


def next_step(run: Run, now: datetime) -> Step | None:
    """The one step the run's state allows now, if any (an escalation waits for the person
    until it expires)."""
    if run.status is RunStatus.SUBMITTED:
        return Step.PLAN
    if run.status is RunStatus.PLANNED and run.decision is None:
        return Step.DECIDE
    if run.status is RunStatus.ESCALATED and now >= _expiry(run):
        return Step.EXPIRE
    if run.status in (RunStatus.APPROVED, RunStatus.EXECUTING):
        return Step.EXECUTE
    return None


@dataclass(frozen=True)
class StepTaken:
    step: Step | None  # the first step taken (None: the run's state allowed none)
    # True when another worker (or the person) changed the run first: its event moves the run
    # on, so this worker has nothing left to do.
    raced: bool = False
    # Every step taken, in order (more than one when carrying on).
    steps: tuple[Step, ...] = ()
    # The run as this call left it, as stored (saved, or loaded when no step was due): one
    # who learns from the run needs no load of it (decision 0047). None after a race.
    run: Run | None = None


def take_step(
    run_id: UUID,
    tenant_id: UUID,
    ports: PipelinePorts,
    *,
    carry_on: bool = False,
    cause: str | None = None,
    took: Callable[[Step], None] | None = None,
) -> StepTaken:
    """Load the run once and take the one step its state allows now; with `carry_on`, every
    step after it too that waits for nothing outside.

    Carrying on, a plan is saved with its decision, and an approved run's plan and decision go
    with the executor's first save (the step's start, before it acts): one append where there
    were three. `cause` is recorded as the causation id of the events saved here; `took` is
    told of each step once it is taken (its events stored, or handed on to the next save)."""
    run = load_run(ports, run_id)
    steps: list[Step] = []
    while True:
        now = ports.clock()
        step = next_step(run, now)
        if step is Step.EXECUTE and ports.execute is not None:
            return _taken([*steps, step], left=ports.execute(run, tenant_id, cause))
        if step is Step.PLAN:
            plan(run, tenant_id, ports)
        elif step is Step.DECIDE:
            decide(run, tenant_id, ports)
        elif step is Step.EXPIRE:
            run.expire_escalation(now)
        elif steps:  # carried on this far: save what the last steps decided
            return _saved(ports, run, tenant_id, cause, steps)
        else:
            return _taken(steps, left=run)
        steps.append(step)
        if not carry_on:
            return _saved(ports, run, tenant_id, cause, steps)
        if took is not None:
            took(step)


def _saved(
    ports: PipelinePorts, run: Run, tenant_id: UUID, cause: str | None, steps: list[Step]
) -> StepTaken:
    """Save the run's new events; raced when someone else changed the run first (this copy
    then holds events the store refused, so it is not handed on)."""
    try:
        save_run(ports, run, tenant_id, cause)
    except IntegrityError:
        return _taken(steps, raced=True)
    return _taken(steps, left=run)


def _taken(steps: list[Step], raced: bool = False, left: Run | None = None) -> StepTaken:
    return StepTaken(steps[0] if steps else None, raced, tuple(steps), left)


def _expiry(run: Run) -> datetime:
    assert run.escalation_expires_at is not None
    return run.escalation_expires_at
