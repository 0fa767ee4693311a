"""Reading, changing and dry-running the two layers of policy: the household's guardrails and
each person's own policies (decision 0015)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import Field

from commands.application import CairnApplication
from commands.base import Caller, Command, CommandResult, Issued
from commands.identity.bound_changes import (
    ChangeApproval,
    approved,
    change_hash,
    check_may_change_autonomy,
    record_change,
)
from commands.ports.policy import PolicyEngine
from commands.ports.store import FindsAbsent
from domain.errors import Forbidden
from domain.identity.capabilities import TENANT_ADMIN, holds
from domain.policy.model import Decision, Principal, policy_version
from domain.runs.plan import Plan
from domain.runs.policies import HouseholdGuardrails, PolicySet

if TYPE_CHECKING:
    from commands.dispatch import Ports


class RunsApplication(CairnApplication):
    """Runs and policy sets, stored in the event store."""


@dataclass(frozen=True)
class Policies:
    text: str
    version: str
    is_default: bool


def _found(app: RunsApplication, aggregate_id: UUID, absent: Collection[UUID] = ()) -> Any:
    if aggregate_id in absent:
        return None
    try:
        return app.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None


# The defaults' versions, hashed once per text (the same for every tenant today). Hashing the
# person's defaults (~3.7 KB) on every decision also let go of the GIL (hashlib does from 2 KB
# on), and in a busy worker the thread then waited for it behind the others (decision 0049).
_default_version = lru_cache(maxsize=64)(policy_version)


def current_policies(
    caller: Caller, app: RunsApplication, engine: PolicyEngine, absent: Collection[UUID] = ()
) -> Policies:
    """The person's own policies (the defaults until they change them). ``absent``: ids the
    store has just said have no events."""
    found = _found(app, PolicySet.create_id(caller.tenant_id, caller.user_id), absent)
    if found is None:
        # The engine's own defaults: its version without validating them again on every
        # decision (~1 ms of a worker's CPU per run, decision 0021).
        text = engine.default_policies(str(caller.tenant_id))
        return Policies(text, _default_version(text), is_default=True)
    assert isinstance(found, PolicySet)
    return Policies(found.text, found.policy_version, is_default=False)


def current_guardrails(
    tenant_id: UUID, app: RunsApplication, engine: PolicyEngine, absent: Collection[UUID] = ()
) -> Policies:
    """The household's guardrails (the defaults until an admin changes them)."""
    found = _found(app, HouseholdGuardrails.create_id(tenant_id), absent)
    if found is None:
        text = engine.default_household(str(tenant_id))
        return Policies(text, _default_version(text), is_default=True)
    assert isinstance(found, HouseholdGuardrails)
    return Policies(found.text, found.policy_version, is_default=False)


def current_layers(
    caller: Caller, app: RunsApplication, engine: PolicyEngine
) -> tuple[Policies, Policies]:
    """The person's policies and the household's guardrails as stored now. Most people and
    households have neither (the defaults apply): the store is asked once which of the two
    exist, instead of once for each (decision 0051)."""
    person = PolicySet.create_id(caller.tenant_id, caller.user_id)
    household = HouseholdGuardrails.create_id(caller.tenant_id)
    recorder = app.recorder
    absent = (
        recorder.without_events((person, household)) if isinstance(recorder, FindsAbsent) else set()
    )
    return (
        current_policies(caller, app, engine, absent),
        current_guardrails(caller.tenant_id, app, engine, absent),
    )


class ChangePolicies(Command):
    """Replace the caller's own policies with this Cedar text. A change that does more than
    add forbid rules needs `approval`: a passkey assertion bound to exactly this change."""

    text: str = Field(min_length=1, max_length=200_000)
    approval: ChangeApproval | None = None


class ChangeGuardrails(Command):
    """Replace the household's guardrails (tenant admins only): forbid rules whose @id starts
    with `household.`. Anything but adding rules needs `approval`, as for one's policies."""

    text: str = Field(min_length=1, max_length=200_000)
    approval: ChangeApproval | None = None


def change_policies(command: ChangePolicies, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    check_may_change_autonomy(issued)
    version = ports.policy.accept(command.text)  # refuses text the schema does not validate
    current = current_policies(caller, ports.runs, ports.policy)
    digest = change_hash(
        "policies", caller.tenant_id, caller.user_id, current.version, command.text
    )
    widens = not ports.policy.only_narrows(current.text, command.text)
    approval = approved(issued, ports, "policies_change", digest, command.approval, required=widens)
    policies = _found(ports.runs, PolicySet.create_id(caller.tenant_id, caller.user_id))
    if policies is None:
        policies = PolicySet(
            caller.tenant_id, caller.user_id, command.text, version, caller.user_id, approval
        )
    else:
        policies.change(command.text, version, caller.user_id, approval)
    return _saved(issued, ports, policies, "person", current.version, version, approval)


def change_guardrails(command: ChangeGuardrails, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    if not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("changing the household guardrails needs the tenant.admin capability")
    check_may_change_autonomy(issued)
    version = ports.policy.accept(command.text, household=True)
    current = current_guardrails(caller.tenant_id, ports.runs, ports.policy)
    digest = change_hash("household", caller.tenant_id, "", current.version, command.text)
    widens = not ports.policy.only_narrows(current.text, command.text)
    approval = approved(
        issued, ports, "guardrails_change", digest, command.approval, required=widens
    )
    guardrails = _found(ports.runs, HouseholdGuardrails.create_id(caller.tenant_id))
    if guardrails is None:
        guardrails = HouseholdGuardrails(
            caller.tenant_id, command.text, version, caller.user_id, approval
        )
    else:
        guardrails.change(command.text, version, caller.user_id, approval)
    return _saved(issued, ports, guardrails, "household", current.version, version, approval)


def _saved(
    issued: Issued,
    ports: Ports,
    aggregate: PolicySet | HouseholdGuardrails,
    layer: str,
    before: str,
    after: str,
    approval: dict[str, Any] | None,
) -> CommandResult:
    position = ports.runs.save_atomically(aggregate, context=issued.event_context())
    if before != after:
        record_change(
            issued,
            ports,
            "policies_changed" if layer == "person" else "guardrails_changed",
            {
                "layer": layer,
                "from_version": before,
                "to_version": after,
                "approved_with_passkey": approval is not None,
            },
        )
    return CommandResult({"policy_version": after}, position)


def dry_run(
    plan: Plan,
    caller: Caller,
    app: RunsApplication,
    engine: PolicyEngine,
    now: datetime | None = None,
) -> Decision:
    """What would be decided for this plan now, and why; records nothing."""
    policies, guardrails = current_layers(caller, app, engine)
    principal = Principal(
        tenant_id=str(caller.tenant_id), user_id=caller.user_id, device_id=caller.device_id
    )
    moment = now or datetime.now(UTC)
    return engine.evaluate(
        plan, principal, caller.capabilities, lambda: moment, policies.text, guardrails.text
    )
