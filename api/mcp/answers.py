"""What tool handlers share: a tool result from data, and the command's `Issued` of a call."""

from __future__ import annotations

import json
from typing import Any

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
