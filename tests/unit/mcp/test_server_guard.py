"""An MCP server a person registers is called from the server: loopback and private addresses
are refused unless the operator allows them (no server-side request forgery through it)."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest

from adapters.llm.endpoints import ResolvingEndpointGuard
from commands.base import Caller
from commands.mcp import upstream_service
from commands.mcp.composition import fetch_client_document
from commands.ports.endpoints import McpServerRefused


def guard(*addresses: str, allow_private: bool = False) -> ResolvingEndpointGuard:
    return ResolvingEndpointGuard(
        allow_private,
        lambda _host, _port: list(addresses),
        what="MCP server",
        setting="CAIRN_ALLOW_PRIVATE_MCP_SERVERS",
        refused=McpServerRefused,
        field="url",
    )


class NeverCalled:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} must not be reached for a refused server")


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://127.0.0.1:8000/mcp", ["127.0.0.1"]),
        ("https://tools.internal.example/mcp", ["10.0.0.7"]),
        ("https://mixed.example/mcp", ["93.184.216.34", "192.168.1.2"]),
        ("https://metadata.example/mcp", ["169.254.169.254"]),
    ],
)
def test_a_private_server_is_refused_before_anything_is_called_or_stored(
    url: str, addresses: list[str]
) -> None:
    ports = upstream_service.UpstreamPorts(
        cast(Any, NeverCalled()),
        cast(Any, NeverCalled()),
        cast(Any, NeverCalled()),
        guard(*addresses),
    )
    caller = Caller(uuid.uuid4(), "ada")
    with pytest.raises(McpServerRefused) as refused:
        upstream_service.register_server(caller, "Tools", url, "none", ports)
    assert refused.value.details["reason"] == "private_address"
    assert "CAIRN_ALLOW_PRIVATE_MCP_SERVERS" in refused.value.message


def test_the_operator_may_allow_private_servers_but_never_link_local() -> None:
    guard("127.0.0.1", allow_private=True).check("http://127.0.0.1:8000/mcp")
    with pytest.raises(McpServerRefused):
        guard("169.254.169.254", allow_private=True).check("https://metadata.example/mcp")


def test_a_client_metadata_document_on_a_private_address_is_not_fetched() -> None:
    with pytest.raises(ValueError, match="client metadata document"):
        fetch_client_document("https://agent.example/client.json", guard("10.1.2.3"))
