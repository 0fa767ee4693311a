"""What tool handlers share: a tool result from data, and the command's `Issued` of a call."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import mcp_types as types

from api.mcp.guard import McpCall
from commands.base import Issued


def result(data: dict[str, Any], *, error: bool = False) -> types.CallToolResult:
    text = json.dumps(data, default=str, ensure_ascii=False)
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=data, is_error=error
    )


def issued_for(call: McpCall, command_id: str | None = None) -> Issued:
    caller = call.caller
    return Issued(
        caller=caller,
        command_id=command_id,
        claims=call.claims,
        correlation_id=caller.correlation_id,
        request_id=caller.request_id,
    )


def audit(call: McpCall, tool: str, outcome: str, details: dict[str, Any]) -> None:
    """Every tool call leaves a security fact: which client (its device), which tool, which
    run, what it was answered. A run's own events hold its plan and decision; this holds
    each call, retries and reads included."""
    caller = call.caller
    call.services.identity.record_security_event(
        "mcp_tool_call",
        outcome,
        tenant_id=caller.tenant_id,
        user_id=UUID(caller.user_id),
        device_id=caller.device_id,
        details={"tool": tool, **details},
    )
