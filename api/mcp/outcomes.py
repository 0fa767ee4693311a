"""An action tool call, from the command to what the client is answered (decision 0030).

The first call dispatches `InvokeAction` and waits (bounded) for the run's decision and, if
approved, its execution. ESCALATE is answered with the 2026-07-28 `input_required` result: a
URL-mode elicitation naming the run's page in the console, where the person approves the
exact plan with a passkey, and a `requestState` naming the run. A retry carrying that state
never starts another run: it reads the same run again, so however often the client retries,
the executor acts once (the step's idempotency key does the rest). A run still in progress
when the wait ends is answered with the state alone: the client retries after a pause.

A client of an older protocol (served by the SDK as legacy) has no `input_required`: it is
answered a tool error (`approval_required`, or `in_progress`) naming the same URL and run, and
its retry of the same call lands on the same run through decision 0035's dedupe (within 60 s,
or for good with its own idempotency key in `_meta`).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from uuid import UUID

import anyio
import mcp_types as types
from starlette.concurrency import run_in_threadpool

from api.mcp.answers import audit, issued_for, result
from api.mcp.guard import McpCall
from commands.dispatch import StoreConflict
from commands.mcp.invoke import (
    DEDUPE_WINDOW_S,
    CallKeyReused,
    InvokeAction,
    Outcome,
    RunOutcome,
    call_command_ids,
    outcome_of,
    same_call,
)
from commands.mcp.tools import ToolSpec
from commands.runs.approvals import load_run
from commands.runs.intents import run_id_for
from domain.errors import InvalidInput, NotFound
from domain.runs.run import Run

STATE_PREFIX = "cairn-run:"
WAIT_S = 20.0


class StateMismatch(InvalidInput):
    code = "request_state_mismatch"


def run_of_state(state: str) -> str:
    if not state.startswith(STATE_PREFIX):
        raise StateMismatch("requestState is not one Cairn gave")
    try:
        return str(UUID(state.removeprefix(STATE_PREFIX)))
    except ValueError as exc:
        raise StateMismatch("requestState is not one Cairn gave") from exc


def _matching_run(call: McpCall, command: InvokeAction, state: str) -> Run:
    """The run a requestState names: the caller's own, for this very call (same action and
    parameters), or refused; a state is never a way to read or redo another call."""
    run = load_run(call.services.runs.app, run_of_state(state), call.caller)
    if not same_call(run, command):
        raise StateMismatch("requestState belongs to another tool call")
    return run


def _earlier(call: McpCall, command_id: str) -> Run | None:
    caller = call.caller
    try:
        return load_run(
            call.services.runs.app, str(run_id_for(caller.tenant_id, command_id)), caller
        )
    except NotFound:
        return None


def _start(call: McpCall, command: InvokeAction, key: str | None) -> str:
    """A new run, unless this is a retry of a first call (decision 0035): the same client's
    idempotency key, or the same call within the dedupe window, names the run it started."""
    now = call.services.identity.clock()
    ids = call_command_ids(call.caller.device_id, command, key, now)
    for command_id in ids:
        run = _earlier(call, command_id)
        if run is None:
            continue
        if key is not None and not same_call(run, command):
            raise CallKeyReused("this idempotency key was used for another tool call")
        if key is not None or now - run.created_on < timedelta(seconds=DEDUPE_WINDOW_S):
            return str(run.id)
    try:
        done = call.services.commands.dispatch(command, issued_for(call, ids[0]))
    except StoreConflict:  # an identical call started it a moment ago
        return str(run_id_for(call.caller.tenant_id, ids[0]))
    return done.ids["run_id"]


def _read(call: McpCall, run_id: str) -> RunOutcome:
    return outcome_of(load_run(call.services.runs.app, run_id, call.caller))


async def _settled(call: McpCall, run_id: str) -> RunOutcome:
    """The run's outcome once it left the in-progress states, or in progress at the bound."""
    deadline = time.monotonic() + WAIT_S
    pause = 0.05
    while True:
        found = await run_in_threadpool(_read, call, run_id)
        if found.outcome is not Outcome.PENDING or time.monotonic() >= deadline:
            return found
        await anyio.sleep(pause)
        pause = min(pause * 2, 0.5)


async def act(
    call: McpCall,
    spec: ToolSpec,
    arguments: dict[str, Any],
    state: str | None,
    key: str | None = None,
    *,
    legacy: bool = False,
) -> types.CallToolResult | types.InputRequiredResult:
    name = await run_in_threadpool(_client_name, call)
    command = InvokeAction(action=spec.name, parameters=arguments, client_name=name)
    if state:
        run_id = str((await run_in_threadpool(_matching_run, call, command, state)).id)
    else:
        run_id = await run_in_threadpool(_start, call, command, key)
    found = await _settled(call, run_id)
    facts = {"run_id": run_id, "status": found.status, "decision": found.decision}
    await run_in_threadpool(audit, call, spec.name, found.outcome.value, facts)
    answer: dict[str, Any] = {"run_id": run_id, "status": found.status, "message": found.message}
    if found.policies:
        answer["policies"] = list(found.policies)
    if found.outcome is Outcome.COMPLETED:
        return result({**answer, "results": found.results})
    if found.outcome in (Outcome.DENIED, Outcome.ENDED):
        return result(answer, error=True)
    resume = f"{STATE_PREFIX}{run_id}"
    url = f"{call.mcp.oauth.issuer}/#/runs/{run_id}"
    if legacy:
        return _legacy_wait(answer, found.outcome, url, resume)
    if found.outcome is Outcome.PENDING:
        return types.InputRequiredResult(request_state=resume)
    ask = types.ElicitRequest(
        params=types.ElicitRequestURLParams(
            message=f"{found.message}: open {url} and approve the plan with your passkey, "
            "then retry this call with the requestState",
            url=url,
        )
    )
    return types.InputRequiredResult(input_requests={"approval": ask}, request_state=resume)


def _legacy_wait(
    answer: dict[str, Any], outcome: Outcome, url: str, resume: str
) -> types.CallToolResult:
    """What an older-protocol client gets instead of `input_required`: an error result it can
    show, naming the console page where the person approves; the same call again reads the run."""
    pending = outcome is Outcome.PENDING
    error = "in_progress" if pending else "approval_required"
    ask = "" if pending else f"open {url} and approve the plan with your passkey, then "
    message = f"{answer['message']}: {ask}retry this same call to get its result"
    wait = {"error": error, "approval_url": url, "request_state": resume}
    return result({**answer, **wait, "message": message}, error=True)


def _client_name(call: McpCall) -> str:
    """The name the person's device for this grant carries ("MCP: <client name>")."""
    caller = call.caller
    user = call.services.identity.get_user(caller.user_id, caller.tenant_id)
    device = user.devices.get(caller.device_id or "", {})
    return str(device.get("name") or "an MCP client")[:200]
