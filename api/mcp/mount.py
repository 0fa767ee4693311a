"""`/mcp` in the FastAPI app: the SDK's streamable HTTP transport behind the guard, and its
session manager run for the app's lifetime (stateless: every request stands alone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from api.mcp.guard import McpGuard
from api.mcp.server import build_server
from commands.bootstrap import Services
from commands.mcp.composition import MCP_PATH, build_mcp


def mount_mcp(app: FastAPI) -> None:
    app.state.mcp_server = build_server()
    guard = McpGuard(_Transport(app))
    app.router.routes.append(Route(MCP_PATH, endpoint=guard, methods=["GET", "POST", "DELETE"]))


class _Transport:
    """The session manager of the running app (made in `running_mcp`, one per lifespan)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        transport: StreamableHTTPASGIApp = self.app.state.mcp_transport
        await transport(scope, receive, send)


@asynccontextmanager
async def running_mcp(app: FastAPI, services: Services) -> AsyncIterator[None]:
    origins = list(services.settings.origins)
    # The spec asks servers to check Origin (DNS rebinding): the console's origins only.
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[urlsplit(o).netloc for o in origins],
        allowed_origins=origins,
    )
    manager = StreamableHTTPSessionManager(
        app=app.state.mcp_server, stateless=True, json_response=True, security_settings=security
    )
    app.state.mcp = build_mcp(services)
    app.state.mcp_transport = StreamableHTTPASGIApp(manager)
    async with manager.run():
        try:
            yield
        finally:
            app.state.mcp = None
