"""Cairn's MCP server (the SDK's low-level `Server`, streamable HTTP, stateless).

Tools come from commands/mcp/tools.py. A call runs as the caller the guard established
(api/mcp/guard.py); an action call is a command through the one dispatch and then an
ordinary run, answered by what the policy decided (api/mcp/outcomes.py).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.concurrency import run_in_threadpool

from api.mcp.answers import audit, issued_for, result
from api.mcp.guard import SCOPE_KEY, McpCall
from api.mcp.outcomes import act
from commands.mcp.invoke import IDEMPOTENCY_META_KEY
from commands.mcp.tools import TOOLS, ToolKind, ToolSpec
from commands.runs.intents import SubmitIntent
from domain.errors import DomainError, InvalidInput
from projections.views.runs import queries as runs_queries


def _tool(spec: ToolSpec) -> types.Tool:
    hints = spec.annotations
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema,
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )


async def list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[_tool(spec) for spec in TOOLS.values()])


def _query(call: McpCall, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    pool, caller = call.services.pool, call.caller
    if name == "get_run":
        run = runs_queries.get_run(pool, caller.tenant_id, caller.user_id, str(arguments["run_id"]))
        return {k: v for k, v in run.items() if k != "position"}
    limit = max(1, min(int(arguments.get("limit", 20)), 100))
    status = "escalated" if name == "list_approvals" else None
    page = runs_queries.list_runs(
        pool, caller.tenant_id, caller.user_id, status=status, limit=limit
    )
    return {"runs": [{**row, "run_id": str(row["run_id"])} for row in page.items]}


def _submit_intent(call: McpCall, arguments: dict[str, Any]) -> dict[str, Any]:
    command = SubmitIntent(text=str(arguments.get("text", "")), channel="api")
    done = call.services.commands.dispatch(command, issued_for(call, uuid4().hex))
    return {"run_id": done.ids["run_id"], "status": "submitted"}


async def call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult | types.InputRequiredResult:
    call: McpCall | None = ctx.request.scope.get(SCOPE_KEY) if ctx.request is not None else None
    if call is None:  # only the guard's requests reach here; anything else is a wiring error
        return result({"error": "not_authenticated"}, error=True)
    spec = TOOLS.get(params.name)
    if spec is None:
        return result({"error": "unknown_tool", "tool": params.name}, error=True)
    arguments = dict(params.arguments or {})
    try:
        if spec.kind is ToolKind.ACTION:  # audited with its run's outcome
            key = idempotency_key(params)
            legacy = ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS
            state = params.request_state
            return await act(call, spec, arguments, state, key, legacy=legacy)
        if spec.kind is ToolKind.QUERY:
            answer = await run_in_threadpool(_query, call, spec.name, arguments)
            facts: dict[str, Any] = {"run_id": arguments.get("run_id")}
        else:
            answer = await run_in_threadpool(_submit_intent, call, arguments)
            facts = {"run_id": answer["run_id"]}
    except DomainError as refused:
        await run_in_threadpool(audit, call, spec.name, "refused", {"error": refused.code})
        return result(
            {"error": refused.code, "message": refused.message, "details": refused.details},
            error=True,
        )
    await run_in_threadpool(audit, call, spec.name, "answered", facts)
    return result(answer)


class BadIdempotencyKey(InvalidInput):
    code = "invalid_idempotency_key"


def idempotency_key(params: types.CallToolRequestParams) -> str | None:
    """The client's own key for a first call, if it gave one in `_meta` (decision 0035)."""
    key = (params.meta or {}).get(IDEMPOTENCY_META_KEY)
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise BadIdempotencyKey(f"{IDEMPOTENCY_META_KEY} is a string of 1 to 200 characters")
    return key


def build_server() -> Server[Any]:
    return Server(
        "cairn",
        version="0.1.0",
        title="Cairn",
        instructions=(
            "Cairn acts for one person under their policies. Action tools are decided by "
            "the policy: some run at once, some are refused, and some wait for the person's "
            "passkey approval in the Cairn console (retry with the given requestState)."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
