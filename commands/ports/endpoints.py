"""Model endpoints a person names (a local model's base URL, a proxy): where the server may
send a planner's request. Implemented by `adapters/llm/endpoints.py` (decision 0023)."""

from __future__ import annotations

from typing import Protocol

from domain.errors import Unprocessable


class ModelEndpointRefused(Unprocessable):
    """422: the endpoint names an address the server must not call for a person (loopback,
    private, link-local...), unless its operator allows private addresses; or it is not an
    http(s) URL, or its host does not resolve. `details.reason` says which."""

    code = "model_endpoint_refused"


class McpServerRefused(Unprocessable):
    """422: an MCP server (or a client's metadata document) on an address the server must not
    call for a person; `details.reason` as for ModelEndpointRefused."""

    code = "mcp_server_refused"


class EndpointGuard(Protocol):
    def check(self, url: str) -> None:
        """Resolve the URL's host; raise ModelEndpointRefused (or the guard's own error)
        unless every address it resolves to may be called."""
        ...
