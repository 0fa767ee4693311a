"""An MCP client for upstream servers (the SDK's `Client` over streamable HTTP), with a
blocking face for the threads commands run on. One connection per call: upstream servers
are few and calls rare, and nothing stays open that a crashed process would leak.

No credential of the person's Cairn session is ever sent upstream (no token passthrough):
a server registered with `auth: none` gets no Authorization header at all, one with
`oauth` the person's own token for that server (their connection, decision 0035).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from commands.ports.mcp_upstream import ListedTool, UpstreamToolFailed
from domain.errors import Unavailable

# The MCP SDK (mcp, mcp_types) takes a second or more of CPU to import, and every run worker
# and API process builds this client: it is imported on the first call to a person's
# upstream server instead (few people have one), not at every process start.
if TYPE_CHECKING:
    import mcp_types as types
    from mcp import Client

TIMEOUT_S = 15.0


def _bearer(token: str | None) -> dict[str, str]:
    """The person's token for this server only: no other credential ever goes upstream."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def _text(result: types.CallToolResult) -> str:
    import mcp_types as types

    parts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    return "\n".join(parts)


def _client(url: str, http: httpx2.AsyncClient) -> Client:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    return Client(streamable_http_client(url, http_client=http))


class SdkUpstreamClient:
    """Implements `commands.ports.mcp_upstream.UpstreamClient`."""

    async def _list(self, url: str, token: str | None) -> list[ListedTool]:
        async with (
            httpx2.AsyncClient(timeout=TIMEOUT_S, headers=_bearer(token)) as http,
            _client(url, http) as client,
        ):
            listed = await client.list_tools()
        return [
            ListedTool(
                tool.name,
                tool.description or "",
                dict(tool.input_schema),
                {}
                if tool.annotations is None
                else tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True),
            )
            for tool in listed.tools
        ]

    async def _call(
        self, url: str, name: str, arguments: Mapping[str, Any], token: str | None
    ) -> str:
        async with (
            httpx2.AsyncClient(timeout=TIMEOUT_S, headers=_bearer(token)) as http,
            _client(url, http) as client,
        ):
            result = await client.call_tool(name, dict(arguments))
        if result.is_error:
            raise UpstreamToolFailed(_text(result)[:500])
        return _text(result)

    def list_tools(self, url: str, token: str | None = None) -> list[ListedTool]:
        try:
            return anyio.run(self._list, url, token)
        except Exception as exc:  # any transport or protocol failure: the server is away
            raise UpstreamUnavailable(url) from exc

    def call_tool(
        self, url: str, name: str, arguments: Mapping[str, Any], token: str | None = None
    ) -> str:
        try:
            return anyio.run(self._call, url, name, arguments, token)
        except UpstreamToolFailed:
            raise
        except Exception as exc:
            raise UpstreamUnavailable(url) from exc


class UpstreamUnavailable(Unavailable):
    """The upstream MCP server did not answer (or not in MCP): 503, try again later."""

    code = "mcp_server_unavailable"

    def __init__(self, url: str) -> None:
        super().__init__("the MCP server did not answer; retry later", {"url": url[:200]})
