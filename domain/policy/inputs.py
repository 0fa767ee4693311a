"""From a validated plan to the recorded `DecisionInput`, and from that to the facts policies see.

The clock is read here, once, before anything is decided; everything after works on the
recorded values only, which is what makes a decision replayable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidInput
from domain.identity.capabilities import holds
from domain.policy.model import DecisionInput, Principal, ResourceRef, StepInput, UpstreamTool
from domain.runs.actions import CATALOGUE, parse_upstream_action, validate_parameters
from domain.runs.plan import Plan, PlanStep

Clock = Callable[[], datetime]
"""Returns the current instant as an aware datetime."""

# The policy schema's resource type for each catalogue action; the resource id is the provider
# (e.g. Calendar::"google"). adapters/policy declares these types in the Cedar schema.
RESOURCE_TYPES: dict[str, str] = {
    "calendar.create_event": "Calendar",
    "calendar.update_event": "Calendar",
    "calendar.delete_event": "Calendar",
    "calendar.free_busy": "Calendar",
    "email.send": "Mailbox",
    "email.draft": "Mailbox",
    "email.search": "Mailbox",
    "reminders.create": "ReminderList",
    "notes.create": "Notebook",
    "payments.send": "PaymentAccount",
}
UPSTREAM_RESOURCE_TYPE = "McpTool"  # id "<server id>/<tool name>"


def read_clock(clock: Clock, timezone: str) -> tuple[datetime, datetime]:
    """(instant in UTC, the same instant as local wall time with its offset)."""
    now = clock()
    if now.utcoffset() is None:
        raise InvalidInput("the clock must return an aware datetime", {"clock": now.isoformat()})
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {timezone!r}", {"timezone": timezone}) from exc
    return now.astimezone(UTC), now.astimezone(zone)


class UnknownUpstreamTool(InvalidInput):
    code = "unknown_mcp_tool"


def upstream_step_input(step: PlanStep, tool: UpstreamTool | None) -> StepInput:
    named = parse_upstream_action(step.action)
    if tool is None or named != (tool.server_id, tool.tool):
        raise UnknownUpstreamTool(
            "the plan names an MCP tool the person has not registered", {"action": step.action}
        )
    validate_parameters(step.action, step.parameters)
    return StepInput(
        step_id=step.step_id,
        action=step.action,
        provider=step.provider,
        resource=ResourceRef(type=UPSTREAM_RESOURCE_TYPE, id=f"{tool.server_id}/{tool.tool}"),
        upstream=tool,
    )


def step_input(step: PlanStep, upstream: Mapping[str, UpstreamTool] | None = None) -> StepInput:
    if parse_upstream_action(step.action) is not None:
        return upstream_step_input(step, (upstream or {}).get(step.action))
    spec = CATALOGUE[step.action]
    parameters = validate_parameters(step.action, step.parameters)
    amount: Decimal | None = None
    currency: str | None = None
    if spec.amount_field is not None:
        amount = Decimal(getattr(parameters, spec.amount_field))
        # Amount-carrying actions name their currency `currency` (see SendPayment).
        currency = getattr(parameters, "currency", None)
    recipients: tuple[str, ...] = ()
    if spec.recipients_field is not None:
        raw = getattr(parameters, spec.recipients_field)
        # None: an update that leaves the attendees as they are.
        recipients = (raw,) if isinstance(raw, str) else tuple(raw or ())
    return StepInput(
        step_id=step.step_id,
        action=step.action,
        provider=step.provider,
        resource=ResourceRef(type=RESOURCE_TYPES[step.action], id=step.provider),
        capability=spec.capability,
        amount=amount,
        currency=currency,
        recipients=recipients,
    )


def decision_input_for(
    plan: Plan,
    principal: Principal,
    capabilities: Iterable[str],
    clock: Clock,
    policy_version: str,
    schema_version: str,
    upstream: Mapping[str, UpstreamTool] | None = None,
) -> DecisionInput:
    """`upstream`: the facts of each upstream MCP tool the plan names, by action name."""
    clock_utc, local_time = read_clock(clock, principal.timezone)
    return DecisionInput(
        principal=principal,
        capabilities=tuple(capabilities),
        steps=tuple(step_input(step, upstream) for step in plan.steps),
        clock_utc=clock_utc,
        local_time=local_time,
        plan_hash=plan.plan_hash(),
        policy_version=policy_version,
        schema_version=schema_version,
    )


@dataclass(frozen=True)
class StepFacts:
    """What the policies may look at for one step, derived only from the recorded input."""

    autonomy: int
    local_hour: int
    local_weekday: int
    holds_capability: bool
    recipients: tuple[str, ...]
    recipient_domains: tuple[str, ...]
    amount_cents: int | None
    currency: str | None
    device_id: str | None


def step_facts(decision_input: DecisionInput, step: StepInput) -> StepFacts:
    held = step.capability is not None and holds(
        decision_input.capabilities, step.capability, step.amount
    )
    domains = sorted({r.rpartition("@")[2] for r in step.recipients if "@" in r})
    return StepFacts(
        autonomy=int(decision_input.principal.autonomy),
        local_hour=decision_input.local_hour,
        local_weekday=decision_input.local_weekday,
        holds_capability=held,
        recipients=step.recipients,
        recipient_domains=tuple(domains),
        amount_cents=step.amount_cents,
        currency=step.currency,
        device_id=decision_input.principal.device_id,
    )
