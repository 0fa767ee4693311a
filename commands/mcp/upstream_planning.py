"""The planner is shown the person's approved upstream MCP tools (decision 0035): their
actions beside the catalogue's, their text as data in the prompt, never instructions. Which
tool texts a plan was made with is recorded (`given`: `mcp-tool:<hash>`)."""

from __future__ import annotations

from uuid import UUID

from commands.mcp.upstream_service import UpstreamPorts
from commands.ports.planner import ContextProvider, PlannerTool, PlanningContext
from domain.runs.actions import upstream_action


class WithUpstreamToolsContext:
    """Implements `commands.ports.planner.ContextProvider`: `inner`'s context, plus the
    person's approved upstream tools."""

    def __init__(self, inner: ContextProvider, ports: UpstreamPorts) -> None:
        self.inner = inner
        self.ports = ports

    def planning_context(
        self, *, tenant_id: UUID, user_id: str, intent_text: str
    ) -> PlanningContext:
        context = self.inner.planning_context(
            tenant_id=tenant_id, user_id=user_id, intent_text=intent_text
        )
        approved = self.ports.store.approved_tools(str(tenant_id), user_id)
        if not approved:
            return context
        tools = tuple(
            PlannerTool(
                action=upstream_action(server.server_id, pin.name),
                server=server.name,
                description=pin.description,
                input_schema=dict(pin.input_schema),
            )
            for server, pin in approved
        )
        given = tuple(f"mcp-tool:{pin.listed_hash}" for _, pin in approved)
        return context.model_copy(update={"tools": tools, "given": (*context.given, *given)})
