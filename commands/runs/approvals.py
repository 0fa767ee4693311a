"""Escalations: the person approves with a passkey bound to the exact plan, or denies."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from commands.base import Caller, CommandResult
from commands.identity.context import IdentityPorts
from commands.identity.login import _unb64, passkey_lookup
from commands.ports.passkeys import CeremonyStart, JsonCredential
from commands.runs.policies import RunsApplication
from domain.errors import NotFound
from domain.runs.run import Run


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
    run = load_run(app, run_id, caller)
    run.check_escalation_open(identity.clock())
    assert run.plan_hash is not None
    user = identity.get_user(caller.user_id, caller.tenant_id)
    return identity.passkeys.begin_plan_approval(
        caller.user_id, bytes.fromhex(run.plan_hash), [_unb64(c) for c in user.passkeys]
    )


def approve(
    run_id: str,
    ceremony_id: str,
    credential: JsonCredential,
    caller: Caller,
    app: RunsApplication,
    identity: IdentityPorts,
) -> CommandResult:
    run = load_run(app, run_id, caller)
    assert run.plan_hash is not None
    verified = identity.passkeys.finish_plan_approval(
        ceremony_id,
        credential,
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
    return _save(run, caller, app)


def deny(
    run_id: str, reason: str, caller: Caller, app: RunsApplication, identity: IdentityPorts
) -> CommandResult:
    run = load_run(app, run_id, caller)
    run.deny_escalation(caller.user_id, reason, identity.clock())
    return _save(run, caller, app)


def cancel(run_id: str, caller: Caller, app: RunsApplication) -> CommandResult:
    run = load_run(app, run_id, caller)
    run.cancel(caller.user_id)
    return _save(run, caller, app)


def _save(run: Run, caller: Caller, app: RunsApplication) -> CommandResult:
    position = app.save_atomically(run, context=caller.event_context(correlation_id=str(run.id)))
    return CommandResult({"run_id": str(run.id)}, position)
