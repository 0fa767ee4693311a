"""The person's upstream MCP servers: register one, list its tools (with each pin's state),
approve a tool as listed (docs/mcp.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Claims, CurrentCaller
from api.routes.oauth import Mcp
from commands.mcp import upstream_service
from commands.ports.mcp_upstream import PinnedTool, UpstreamServer

ServerId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The server's id")]
# Tool names are the upstream's own: any text without control characters, as MCP allows.
ToolName = Annotated[str, Path(pattern=r"^[^\x00-\x1f\x7f]{1,128}$", description="Tool name")]

router = APIRouter(prefix="/v1/mcp/servers", tags=["mcp"])


class ServerIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=8, max_length=500)
    auth: Literal["none", "oauth"] = "none"


class ToolOut(BaseModel):
    name: str
    description: str
    hash: str = Field(description="What approving this tool approves: name, description, schema")
    state: str = Field(description="pending, approved or quarantined")


class ServerOut(BaseModel):
    server_id: str
    name: str
    url: str
    auth: str = Field(description="none, or oauth: the person connects it as an account")
    connect_provider: str | None = Field(
        default=None,
        description="For an oauth server: the provider to connect at /v1/connections/{provider}",
    )
    tools: list[ToolOut]


def _out(server: UpstreamServer, pins: list[PinnedTool]) -> ServerOut:
    oauth = server.auth == "oauth"
    return ServerOut(
        server_id=server.server_id,
        name=server.name,
        url=server.url,
        auth=server.auth,
        connect_provider=upstream_service.provider_of(server) if oauth else None,
        tools=_tools(pins),
    )


class ApproveToolIn(BaseModel):
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


def _tools(pins: list[PinnedTool]) -> list[ToolOut]:
    return [
        ToolOut(name=p.name, description=p.description, hash=p.listed_hash, state=p.state)
        for p in sorted(pins, key=lambda p: p.name)
    ]


class ServersOut(BaseModel):
    servers: list[ServerOut]


@router.get("", operation_id="listMcpServers", response_model=ServersOut)
def list_servers(caller: CurrentCaller, mcp: Mcp) -> ServersOut:
    """The person's upstream MCP servers and their tools as last listed (asks no server)."""
    return ServersOut(
        servers=[
            _out(server, list(pins.values()))
            for server, pins in upstream_service.servers(caller, mcp.upstream)
        ]
    )


@router.post("", operation_id="registerMcpServer", status_code=201, response_model=ServerOut)
def register_server(body: ServerIn, caller: CurrentCaller, mcp: Mcp) -> ServerOut:
    """Register an upstream MCP server and list its tools: each waits for the person's
    approval before it can be called. A server that wants OAuth (it answers 401, or `auth`
    says so) is registered without tools: the person connects it first (`connect_provider`)."""
    server, pins = upstream_service.register_server(
        caller, body.name, body.url, body.auth, mcp.upstream
    )
    return _out(server, pins)


@router.get("/{server_id}/tools", operation_id="listMcpServerTools", response_model=ServerOut)
def list_tools(server_id: ServerId, caller: CurrentCaller, mcp: Mcp) -> ServerOut:
    """The server's tools as it lists them now; a tool changed since its approval is
    quarantined from this moment."""
    server, pins = upstream_service.list_again(caller, server_id, mcp.upstream)
    return _out(server, list(pins.values()))


@router.post(
    "/{server_id}/tools/{name}/approve", operation_id="approveMcpServerTool", status_code=204
)
async def approve_tool(
    server_id: ServerId,
    name: ToolName,
    body: ApproveToolIn,
    caller: CurrentCaller,
    claims: Claims,
    mcp: Mcp,
) -> None:
    """Approve the tool exactly as listed (its hash); needs a fresh passkey (step-up). A
    hash the server no longer lists is 409 `mcp_tool_changed`."""
    await run_in_threadpool(
        upstream_service.approve_tool, caller, claims, server_id, name, body.hash, mcp.upstream
    )
