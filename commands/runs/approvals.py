"""Escalations: the person approves with a passkey bound to the exact plan, or denies; a run
that has not started executing can be cancelled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import Field

from commands.base import Caller, Command, CommandResult, Issued
from commands.identity.context import IdentityPorts
from commands.identity.login import _unb64, passkey_lookup
from commands.ports.passkeys import CeremonyStart
from commands.runs.policies import RunsApplication
from domain.errors import Conflict, NotFound
from domain.runs.run import Run, RunStatus

if TYPE_CHECKING:
    from commands.dispatch import Ports

RunId = Field(min_length=1, max_length=64)


class ApproveEscalation(Command):
    """Approve the run's escalated plan with a passkey assertion bound to that plan."""

    run_id: str = RunId
    ceremony_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]


class DenyEscalation(Command):
    run_id: str = RunId
    reason: str = Field(default="denied by the person", max_length=500)


class CancelRun(Command):
    run_id: str = RunId


class EscalationResolved(Conflict):
    """Someone (or the clock) resolved the escalation first: the answer came too late."""


def load_run(app: RunsApplication, run_id: str, caller: Caller) -> Run:
    """The run, or NotFound: also for another user's or another tenant's run."""
    try:
        found: object = app.repository.get(UUID(run_id))
    except (ValueError, AggregateNotFoundError) as exc:
        raise NotFound("no such run", {"run_id": run_id}) from exc
    # A user id belongs to exactly one tenant, so "the caller's own run" is also "the
    # caller's tenant's run".
    if not isinstance(found, Run) or found.user_id != caller.user_id:
        raise NotFound("no such run", {"run_id": run_id})
    return found


def begin_approval(
    run_id: str, caller: Caller, app: RunsApplication, identity: IdentityPorts
) -> CeremonyStart:
    """Start the passkey ceremony of an approval (records nothing: not a command)."""
    run = load_run(app, run_id, caller)
    run.check_escalation_open(identity.clock())
    assert run.plan_hash is not None
    user = identity.get_user(caller.user_id, caller.tenant_id)
    return identity.passkeys.begin_plan_approval(
        caller.user_id, bytes.fromhex(run.plan_hash), [_unb64(c) for c in user.passkeys]
    )


def _escalated(run: Run) -> Run:
    """The run if its escalation is still waiting for an answer; a run whose escalation was
    answered (or expired) meanwhile is a conflict, as a lost race at the store is."""
    if run.status is not RunStatus.ESCALATED and run.escalation_expires_at is not None:
        raise EscalationResolved(
            f"the escalation was already answered: the run is {run.status.value}",
            {"run_id": str(run.id), "status": run.status.value},
        )
    return run


def approve_escalation(command: ApproveEscalation, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    identity = ports.identity
    run = _escalated(load_run(ports.runs, command.run_id, caller))
    run.check_escalation_open(identity.clock())
    assert run.plan_hash is not None
    verified = identity.passkeys.finish_plan_approval(
        command.ceremony_id,
        command.credential,
        bytes.fromhex(run.plan_hash),
        passkey_lookup(identity, caller.user_id),
    )
    run.approve_escalation(
        verified.plan_hash.hex(),
        caller.user_id,
        verified.assertion.credential_id_b64,
        verified.as_event_data(),
        identity.clock(),
    )
    return _save(run, issued, ports)


def deny_escalation(command: DenyEscalation, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    run = _escalated(load_run(ports.runs, command.run_id, caller))
    run.deny_escalation(caller.user_id, command.reason, ports.identity.clock())
    return _save(run, issued, ports)


def cancel_run(command: CancelRun, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    run = load_run(ports.runs, command.run_id, caller)
    run.cancel(caller.user_id)
    return _save(run, issued, ports)


def _save(run: Run, issued: Issued, ports: Ports) -> CommandResult:
    context = issued.event_context(correlation_id=str(run.id))
    position = ports.runs.save_atomically(run, context=context)
    return CommandResult({"run_id": str(run.id)}, position)
