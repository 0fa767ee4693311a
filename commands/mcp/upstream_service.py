"""Registering an upstream MCP server, approving its tools, and calling one (only as approved).

Every step leaves a security fact (`mcp_server registered`, `mcp_tool approved`,
`mcp_tool quarantined`), so the audit trail shows which tool text the person approved and
when an upstream changed under them. Approving a tool widens what can run for the person:
it needs a fresh passkey (step-up), and names the exact hash it approves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from commands.base import Caller
from commands.identity.context import IdentityPorts
from commands.mcp.upstream import as_listed, as_untrusted_data, check_callable, reconcile
from commands.ports.connections import ConnectionTokens
from commands.ports.endpoints import EndpointGuard
from commands.ports.mcp_upstream import (
    PinnedTool,
    ToolState,
    UpstreamAuthorization,
    UpstreamClient,
    UpstreamServer,
    UpstreamStore,
)
from commands.ports.sessions import AccessClaims
from domain.errors import Conflict, InvalidInput, NotFound, Unavailable

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class UpstreamPorts:
    store: UpstreamStore
    client: UpstreamClient
    identity: IdentityPorts
    guard: EndpointGuard  # no loopback or private address unless the operator allows it
    # OAuth servers (decision 0035): discovery and registration, and the person's tokens
    # (their connection `mcp-<server id>`); None where connections are not configured.
    authorization: UpstreamAuthorization | None = None
    tokens: ConnectionTokens | None = None


def provider_of(server: UpstreamServer) -> str:
    """The connection provider of an OAuth server: one connection per person and server."""
    return f"mcp-{server.server_id}"


def token_for(server: UpstreamServer, ports: UpstreamPorts, tenant: str) -> str | None:
    """The person's own access token for this server (refreshed through the connections'
    serialised path), or None for a server without authorization."""
    if server.auth != "oauth":
        return None
    if ports.tokens is None:
        raise Unavailable("connected accounts are not configured in this process")
    return ports.tokens.access_token(tenant, server.user_id, provider_of(server)).value


class ToolChangedMeanwhile(Conflict):
    code = "mcp_tool_changed"


def _fact(ports: UpstreamPorts, caller: Caller, kind: str, outcome: str, **details: Any) -> None:
    ports.identity.record_security_event(
        kind,
        outcome,
        tenant_id=caller.tenant_id,
        user_id=UUID(caller.user_id),
        device_id=caller.device_id,
        details=details,
    )


def register_server(
    caller: Caller, name: str, url: str, auth: str, ports: UpstreamPorts
) -> tuple[UpstreamServer, list[PinnedTool]]:
    """Register and list its tools: all pending until the person approves each."""
    parts = urlsplit(url)
    local = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK
    if not (parts.scheme == "https" and parts.hostname) and not local:
        raise InvalidInput("an MCP server URL is https, or http on this machine", {"url": url})
    ports.guard.check(url)
    tenant = str(caller.tenant_id)
    challenge = ports.authorization.challenge(url) if ports.authorization else None
    if auth == "oauth" or challenge is not None:
        # Its tools are listed once the person has connected (the connections' flow).
        if ports.authorization is None:
            raise Unavailable("connected accounts are not configured in this process")
        server = UpstreamServer(uuid4().hex, caller.user_id, name[:100], url, "oauth")
        ports.authorization.register(provider_of(server), url, challenge or "")
        ports.store.add_server(tenant, server, ports.identity.clock())
        _fact(ports, caller, "mcp_server", "registered", server_id=server.server_id, url=url)
        return server, []
    server = UpstreamServer(uuid4().hex, caller.user_id, name[:100], url, auth)
    listed = ports.client.list_tools(url)
    ports.store.add_server(tenant, server, ports.identity.clock())
    pins = reconcile(server.server_id, {}, listed)
    ports.store.save_pins(tenant, pins)
    _fact(ports, caller, "mcp_server", "registered", server_id=server.server_id, url=url)
    return server, pins


def servers(
    caller: Caller, ports: UpstreamPorts
) -> list[tuple[UpstreamServer, dict[str, PinnedTool]]]:
    """The person's servers with their tools as last listed (no call to any server)."""
    tenant = str(caller.tenant_id)
    return [
        (server, ports.store.pins(tenant, server.server_id))
        for server in ports.store.servers_of(tenant, caller.user_id)
    ]


def _own(caller: Caller, server_id: str, ports: UpstreamPorts) -> UpstreamServer:
    server = ports.store.get_server(str(caller.tenant_id), server_id)
    if server is None or server.user_id != caller.user_id:
        raise NotFound("no such MCP server", {"server_id": server_id})
    return server


def list_again(
    caller: Caller, server_id: str, ports: UpstreamPorts
) -> tuple[UpstreamServer, dict[str, PinnedTool]]:
    """List the server's tools now and record the pins; a tool whose text changed after its
    approval is quarantined from this moment (and the change is a security fact)."""
    server = _own(caller, server_id, ports)
    return server, relist(caller, server, ports)


def relist(caller: Caller, server: UpstreamServer, ports: UpstreamPorts) -> dict[str, PinnedTool]:
    """The server's tools as it lists them now, recorded as its pins; a quarantine it causes
    is a security fact of the caller (the person, or the executor acting for them)."""
    tenant = str(caller.tenant_id)
    before = ports.store.pins(tenant, server.server_id)
    listed = ports.client.list_tools(server.url, token_for(server, ports, tenant))
    after = reconcile(server.server_id, before, listed)
    ports.store.save_pins(tenant, after)
    for pin in after:
        was = before.get(pin.name)
        if pin.state is ToolState.QUARANTINED and (
            was is None or was.listed_hash != pin.listed_hash
        ):
            _fact(
                ports,
                caller,
                "mcp_tool",
                "quarantined",
                server_id=server.server_id,
                tool=pin.name,
                approved_hash=pin.approved_hash,
                listed_hash=pin.listed_hash,
            )
    return {pin.name: pin for pin in after}


def approve_tool(
    caller: Caller,
    claims: AccessClaims,
    server_id: str,
    name: str,
    expected_hash: str,
    ports: UpstreamPorts,
) -> None:
    """The person approves exactly the text they were shown (its hash), with a fresh passkey."""
    ports.identity.tokens.require_fresh(claims)
    _own(caller, server_id, ports)
    approved = ports.store.approve(
        str(caller.tenant_id),
        server_id,
        name,
        expected_hash,
        caller.user_id,
        ports.identity.clock(),
    )
    if not approved:
        raise ToolChangedMeanwhile(
            "the tool is not listed with this hash (it changed, or is unknown): list it again",
            {"tool": name, "hash": expected_hash},
        )
    _fact(ports, caller, "mcp_tool", "approved", server_id=server_id, tool=name, hash=expected_hash)


def call_tool(
    caller: Caller, server_id: str, name: str, arguments: Mapping[str, Any], ports: UpstreamPorts
) -> str:
    """Call the tool if what the server lists now is what the person approved; the output
    comes back fenced as untrusted data, never as instructions."""
    server, pins = list_again(caller, server_id, ports)
    pin = pins.get(name)  # the pins of a fresh listing: what the server lists right now
    live = as_listed(pin) if pin else None
    check_callable(pin, live, name)
    token = token_for(server, ports, str(caller.tenant_id))
    output = ports.client.call_tool(server.url, name, arguments, token)
    return as_untrusted_data(server.name, name, output)
