"""Reading, changing and dry-running a person's policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventsourcing.application import AggregateNotFoundError
from pydantic import Field

from commands.application import CairnApplication
from commands.base import Caller, Command, CommandResult, Issued
from commands.ports.policy import PolicyEngine
from domain.policy.model import Decision, Principal
from domain.runs.plan import Plan
from domain.runs.policies import PolicySet

if TYPE_CHECKING:
    from commands.dispatch import Ports


class RunsApplication(CairnApplication):
    """Runs and policy sets, stored in the event store."""


@dataclass(frozen=True)
class Policies:
    text: str
    version: str
    is_default: bool


def current_policies(caller: Caller, app: RunsApplication, engine: PolicyEngine) -> Policies:
    try:
        found: object = app.repository.get(PolicySet.create_id(caller.tenant_id, caller.user_id))
    except AggregateNotFoundError:
        text = engine.default_policies(str(caller.tenant_id))
        return Policies(text, engine.accept(text), is_default=True)
    assert isinstance(found, PolicySet)
    return Policies(found.text, found.policy_version, is_default=False)


class ChangePolicies(Command):
    """Replace the caller's policies with this Cedar text."""

    text: str = Field(min_length=1, max_length=200_000)


def change_policies(command: ChangePolicies, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    app = ports.runs
    version = ports.policy.accept(command.text)  # refuses text the schema does not validate
    policy_id = PolicySet.create_id(caller.tenant_id, caller.user_id)
    policies: PolicySet
    try:
        found: object = app.repository.get(policy_id)
        assert isinstance(found, PolicySet)
        policies = found
        policies.change(command.text, version, caller.user_id)
    except AggregateNotFoundError:
        policies = PolicySet(
            caller.tenant_id, caller.user_id, command.text, version, caller.user_id
        )
    position = app.save_atomically(policies, context=issued.event_context())
    return CommandResult({"policy_version": version}, position)


def dry_run(
    plan: Plan,
    caller: Caller,
    app: RunsApplication,
    engine: PolicyEngine,
    now: datetime | None = None,
) -> Decision:
    """What would be decided for this plan now, and why; records nothing."""
    policies = current_policies(caller, app, engine)
    principal = Principal(
        tenant_id=str(caller.tenant_id), user_id=caller.user_id, device_id=caller.device_id
    )
    moment = now or datetime.now(UTC)
    return engine.evaluate(plan, principal, caller.capabilities, lambda: moment, policies.text)
