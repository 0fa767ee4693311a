"""An action tool call, from the command to what the client is answered (decision 0030).

The first call dispatches `InvokeAction` and waits (bounded) for the run's decision and, if
approved, its execution. ESCALATE is answered with the 2026-07-28 `input_required` result: a
URL-mode elicitation naming the run's page in the console, where the person approves the
exact plan with a passkey, and a `requestState` naming the run. A retry carrying that state
never starts another run: it reads the same run again, so however often the client retries,
the executor acts once (the step's idempotency key does the rest). A run still in progress
when the wait ends is answered with the state alone: the client retries after a pause.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID, uuid4

import anyio
import mcp_types as types
from starlette.concurrency import run_in_threadpool

from api.mcp.answers import audit, issued_for, result
from api.mcp.guard import McpCall
from commands.mcp.invoke import InvokeAction, Outcome, RunOutcome, client_plan, outcome_of
from commands.mcp.tools import ToolSpec
from commands.runs.approvals import load_run
from domain.errors import InvalidInput
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
    planned = (run.plan or {}).get("steps", [{}])[0]
    step = client_plan(command).steps[0]
    if planned.get("action") != step.action or planned.get("parameters") != step.parameters:
        raise StateMismatch("requestState belongs to another tool call")
    return run


def _start(call: McpCall, command: InvokeAction) -> str:
    done = call.services.commands.dispatch(command, issued_for(call, uuid4().hex))
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
    call: McpCall, spec: ToolSpec, arguments: dict[str, Any], state: str | None
) -> types.CallToolResult | types.InputRequiredResult:
    name = await run_in_threadpool(_client_name, call)
    command = InvokeAction(action=spec.name, parameters=arguments, client_name=name)
    if state:
        run_id = str((await run_in_threadpool(_matching_run, call, command, state)).id)
    else:
        run_id = await run_in_threadpool(_start, call, command)
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
    if found.outcome is Outcome.PENDING:
        return types.InputRequiredResult(request_state=resume)
    url = f"{call.mcp.oauth.issuer}/#/runs/{run_id}"
    ask = types.ElicitRequest(
        params=types.ElicitRequestURLParams(
            message=f"{found.message}: open {url} and approve the plan with your passkey, "
            "then retry this call with the requestState",
            url=url,
        )
    )
    return types.InputRequiredResult(input_requests={"approval": ask}, request_state=resume)


def _client_name(call: McpCall) -> str:
    """The name the person's device for this grant carries ("MCP: <client name>")."""
    caller = call.caller
    user = call.services.identity.get_user(caller.user_id, caller.tenant_id)
    device = user.devices.get(caller.device_id or "", {})
    return str(device.get("name") or "an MCP client")[:200]
