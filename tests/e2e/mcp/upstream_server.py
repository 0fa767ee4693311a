"""An upstream MCP server for tests: the SDK's own server over streamable HTTP on a loopback
port, whose tool text a test can change (a rug pull) and whose output a test chooses."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


class Upstream:
    def __init__(self) -> None:
        self.description = "The weather in a city."
        self.output = "Sunny, 21 degrees."
        self.calls: list[dict[str, Any]] = []
        self.url = ""
        # Set to guard the server with OAuth: the authorization server's issuer, and the
        # access tokens it holds valid now. Every Authorization header seen is kept.
        self.issuer: str | None = None
        self.valid_tokens: Callable[[], set[str]] = set
        self.authorizations: list[str] = []

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tool = types.Tool(name="weather", description=self.description, input_schema=SCHEMA)
        return types.ListToolsResult(tools=[tool])

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        self.calls.append(dict(params.arguments or {}))
        return types.CallToolResult(content=[types.TextContent(text=self.output)])


METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"


async def _answer(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    start = [(b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


def guarded(app: Any, upstream: Upstream) -> Any:
    """The MCP server as a resource server (RFC 9728 metadata, 401 with the challenge) once
    `upstream.issuer` is set; as it was otherwise."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or upstream.issuer is None:
            await app(scope, receive, send)
            return
        if scope["path"] == METADATA_PATH:
            document = {
                "resource": upstream.url,
                "authorization_servers": [upstream.issuer],
                "scopes_supported": ["weather"],
            }
            await _answer(send, 200, json.dumps(document).encode(), [])
            return
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        upstream.authorizations.append(auth)
        if auth.removeprefix("Bearer ") not in upstream.valid_tokens():
            base = upstream.url.removesuffix("/mcp")
            challenge = f'Bearer resource_metadata="{base}{METADATA_PATH}"'
            await _answer(send, 401, b"{}", [(b"www-authenticate", challenge.encode())])
            return
        await app(scope, receive, send)

    return asgi


@contextmanager
def upstream_server() -> Iterator[Upstream]:
    upstream = Upstream()
    server = Server("weather", on_list_tools=upstream.list_tools, on_call_tool=upstream.call_tool)
    app = guarded(server.streamable_http_app(stateless_http=True, json_response=True), upstream)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        upstream.url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        running = uvicorn.Server(config)
        thread = threading.Thread(target=running.run, args=([listener],), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not running.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the upstream MCP server did not start")
            time.sleep(0.02)
        try:
            yield upstream
        finally:
            running.should_exit = True
            thread.join(timeout=10)
