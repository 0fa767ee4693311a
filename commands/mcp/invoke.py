"""An MCP action tool call becomes a run whose plan is that one action.

The run is recorded the way an intent's is (`IntentSubmitted`, channel `mcp`, then
`PlanProposed` with the client's step, both in one atomic save), so from there on it is an
ordinary run: a worker decides it with the person's and the household's Cedar policies, an
ESCALATE waits for the person's passkey in the console, and the executor acts once with the
step's idempotency key. The client never chooses anything the policy has not seen: the
plan is built here from the catalogue entry and the validated parameters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field

from commands.base import Command, CommandResult, Issued
from commands.mcp.tools import DEFAULT_PROVIDER
from commands.runs.intents import run_id_for
from domain.errors import Unprocessable
from domain.runs.actions import CATALOGUE, UnknownAction, validate_parameters
from domain.runs.plan import ModelUsage, Plan, PlanStep
from domain.runs.run import Run, RunStatus

if TYPE_CHECKING:
    from commands.dispatch import Ports

MCP_CHANNEL = "mcp"
# Recorded as the "model" of a plan an MCP client gave: no model was asked, nothing was paid.
CLIENT_PLAN_USAGE = ModelUsage(
    model="mcp-client", provider="mcp", prompt_tokens=0, completion_tokens=0, cost_usd=Decimal(0)
)


class InvokeAction(Command):
    """Ask for one catalogue action through an MCP tool call, decided by the policy."""

    action: str = Field(min_length=1, max_length=100)
    parameters: dict[str, Any]
    client_name: str = Field(min_length=1, max_length=200)


def client_plan(command: InvokeAction) -> Plan:
    spec = CATALOGUE.get(command.action)
    if spec is None:
        raise UnknownAction(
            f"unknown action {command.action!r}",
            {"action": command.action, "known": sorted(CATALOGUE)},
        )
    parameters = validate_parameters(command.action, command.parameters)
    step = PlanStep(
        step_id="s1",
        action=spec.name,
        provider=DEFAULT_PROVIDER[spec.name],
        parameters=parameters.model_dump(mode="json", exclude_none=True),
    )
    return Plan(summary=f"{spec.description} ({command.client_name})"[:500], steps=[step])


def invoke_action(command: InvokeAction, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    plan = client_plan(command)
    run = Run(
        run_id_for(caller.tenant_id, issued.required_command_id()),
        f"MCP tool call {command.action} by {command.client_name}",
        caller.user_id,
        caller.device_id,
        MCP_CHANNEL,
        tenant_id=caller.tenant_id,
    )
    run.propose_plan(
        plan.model_dump(mode="json"), plan.plan_hash(), CLIENT_PLAN_USAGE.model_dump(mode="json")
    )
    context = issued.event_context(correlation_id=str(run.id))
    position = ports.runs.save_atomically(run, context=context)
    return CommandResult({"run_id": str(run.id), "plan_hash": plan.plan_hash()}, position)


# A call without requestState is a new run. MCP gives it no idempotency key, so a client
# retrying a call it got no answer to would start a second one (decision 0035): a client may
# name one in `_meta`, and without one the same call (client, tool, canonical arguments)
# within this window is the same run.
IDEMPOTENCY_META_KEY = "cairn/idempotency-key"
DEDUPE_WINDOW_S = 60


class CallKeyReused(Unprocessable):
    code = "idempotency_key_reused"


def call_command_ids(
    device_id: str | None, command: InvokeAction, key: str | None, now: datetime
) -> list[str]:
    """The command ids a first call may already have used, newest first: the client's key's,
    or the current and the previous window's for these exact arguments."""
    client = device_id or "-"
    if key is not None:
        return [_digest("key", client, command.action, key)]
    arguments = json.dumps(command.parameters, sort_keys=True, separators=(",", ":"), default=str)
    window = int(now.timestamp()) // DEDUPE_WINDOW_S
    return [
        _digest("call", client, command.action, arguments, str(w)) for w in (window, window - 1)
    ]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(("mcp", *parts)).encode()).hexdigest()[:32]


def same_call(run: Run, command: InvokeAction) -> bool:
    """The run is the one this call's plan describes (same action and parameters)."""
    planned = (run.plan or {}).get("steps", [{}])[0]
    step = client_plan(command).steps[0]
    return bool(
        planned.get("action") == step.action and planned.get("parameters") == step.parameters
    )


class Outcome(StrEnum):
    PENDING = "pending"  # not decided yet, or approved and executing
    ESCALATED = "escalated"  # waits for the person's passkey in the console
    COMPLETED = "completed"
    DENIED = "denied"  # by a policy, or by the person
    ENDED = "ended"  # failed, cancelled or expired


@dataclass(frozen=True)
class RunOutcome:
    outcome: Outcome
    status: str
    message: str
    policies: tuple[str, ...] = ()
    results: dict[str, Any] | None = None
    decision: str | None = None  # APPROVE, DENY or ESCALATE, once the policy decided


def outcome_of(run: Run) -> RunOutcome:
    """What a tool call answers for the run in its current state."""
    found = _outcome_of(run)
    decided = (run.decision or {}).get("outcome")
    return RunOutcome(
        found.outcome, found.status, found.message, found.policies, found.results, decided
    )


def _outcome_of(run: Run) -> RunOutcome:
    status = run.status
    decision = run.decision or {}
    policies = tuple(decision.get("policies", ()))
    if status in (RunStatus.SUBMITTED, RunStatus.PLANNED, RunStatus.APPROVED, RunStatus.EXECUTING):
        return RunOutcome(Outcome.PENDING, status.value, "the run is in progress")
    if status is RunStatus.ESCALATED:
        return RunOutcome(
            Outcome.ESCALATED,
            status.value,
            "the policy asks the person to approve this in the Cairn console",
            policies,
        )
    if status is RunStatus.COMPLETED:
        results = {k: v.get("result") for k, v in run.steps.items()}
        return RunOutcome(Outcome.COMPLETED, status.value, "done", policies, results)
    if status is RunStatus.DENIED:
        if decision.get("outcome") == "DENY":
            named = ", ".join(policies) or "no policy permits it (deny by default)"
            return RunOutcome(
                Outcome.DENIED, status.value, f"denied by Cairn's policy: {named}", policies
            )
        return RunOutcome(Outcome.DENIED, status.value, "the person denied it", policies)
    reason = run.failure or f"the run is {status.value}"
    return RunOutcome(Outcome.ENDED, status.value, reason, policies)
