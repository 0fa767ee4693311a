"""Upstream MCP servers, as commands see them: the tools a server lists, the pins the person
approved (commands/mcp/upstream.py has the rules), where both are kept, and the client that
talks to a server. Implemented in adapters/mcp/.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class ToolState(StrEnum):
    PENDING = "pending"  # listed, never approved
    APPROVED = "approved"
    QUARANTINED = "quarantined"  # approved once, changed since


@dataclass(frozen=True)
class ListedTool:
    """A tool as the upstream lists it now."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    # MCP's hints (readOnlyHint, destructiveHint, ...) as the upstream gives them: untrusted.
    annotations: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return tool_hash(self.name, self.description, self.input_schema, self.annotations)


@dataclass(frozen=True)
class PinnedTool:
    server_id: str
    name: str
    approved_hash: str | None  # what the person approved; None before any approval
    listed_hash: str  # what the upstream listed last
    description: str
    input_schema: Mapping[str, Any]
    annotations: Mapping[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> ToolState:
        if self.approved_hash is None:
            return ToolState.PENDING
        if self.approved_hash != self.listed_hash:
            return ToolState.QUARANTINED
        return ToolState.APPROVED


def tool_hash(
    name: str,
    description: str,
    input_schema: Mapping[str, Any],
    annotations: Mapping[str, Any] | None = None,
) -> str:
    """What approving a tool approves. Its hints count too (a tool that turns from read-only
    to destructive changed what a policy sees), but only when it has any, so the hash of a
    tool without them is what it was before hints were pinned (decision 0035)."""
    text: dict[str, Any] = {"name": name, "description": description, "input_schema": input_schema}
    if annotations:
        text["annotations"] = annotations
    canonical = json.dumps(
        text,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class UpstreamServer:
    server_id: str
    user_id: str
    name: str
    url: str
    auth: str  # "none" for now; "oauth" goes through a connected account (integrations)


class UpstreamToolFailed(Exception):
    """The upstream answered the call with a tool error (`isError`): it says it failed."""


class UpstreamStore(Protocol):
    def add_server(self, tenant: str, server: UpstreamServer, now: datetime) -> None: ...

    def get_server(self, tenant: str, server_id: str) -> UpstreamServer | None: ...

    def pins(self, tenant: str, server_id: str) -> dict[str, PinnedTool]: ...

    def save_pins(self, tenant: str, pins: list[PinnedTool]) -> None: ...

    def servers_of(self, tenant: str, user_id: str) -> list[UpstreamServer]: ...

    def approve(
        self,
        tenant: str,
        server_id: str,
        name: str,
        expected_hash: str,
        user_id: str,
        now: datetime,
    ) -> bool:
        """Approve the tool's listed hash if it still is `expected_hash`; False otherwise."""
        ...


class UpstreamClient(Protocol):
    """Talks to one upstream MCP server (adapters/mcp/upstream_client.py), with the person's
    access token for that server when it wants one (never a Cairn credential)."""

    def list_tools(self, url: str, token: str | None = None) -> list[ListedTool]: ...

    def call_tool(
        self, url: str, name: str, arguments: Mapping[str, Any], token: str | None = None
    ) -> str:
        """The tool's text output (never interpreted by Cairn); `UpstreamToolFailed` when
        the tool answers an error."""
        ...


class UpstreamAuthorization(Protocol):
    """OAuth for upstream servers (adapters/mcp/upstream_oauth.py, decision 0035)."""

    def challenge(self, url: str) -> str | None:
        """The server's `WWW-Authenticate` when it answers 401 without a token, else None."""
        ...

    def register(self, provider: str, url: str, challenge: str) -> None:
        """Discover the server's authorization server (RFC 9728, RFC 8414) and register Cairn
        there (RFC 7591), as the connection provider `provider`."""
        ...
