"""Scopes: what a client may do with a token, beside what the person may do (capabilities).

A token carries scopes; a command that changes what runs without the person (policies,
household guardrails, model endpoints and keys; later delegation, MCP servers, connected
accounts' scopes) needs `autonomy:write` besides the person's own right to make it. The person's
own apps, signed in with a passkey, hold it. A delegated client acts for the person without
being the person: it gets `api` only, unless it is a kind that may ask for more and asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from domain.errors import Forbidden

API = "api"
AUTONOMY_WRITE = "autonomy:write"
# What an MCP client may do through Cairn's MCP server (docs/mcp.md): see runs and approvals,
# and start runs (intents and action tools, each decided by the policy like any intent).
RUNS_READ = "runs:read"
RUNS_WRITE = "runs:write"
MCP_SCOPES = (RUNS_READ, RUNS_WRITE)
FIRST_PARTY_SCOPES = (API, AUTONOMY_WRITE)
DELEGATED_DEFAULT_SCOPES = (API,)


class DelegatedClient(StrEnum):
    CLI = "cli"  # `cairn` signed in with the device authorization grant, approved by passkey
    MCP = "mcp"  # an MCP client acting through Cairn's MCP server


# What each kind of delegated client may be granted when it asks; never by default.
_MAY_ASK: dict[DelegatedClient, frozenset[str]] = {
    DelegatedClient.CLI: frozenset({API, AUTONOMY_WRITE}),
    DelegatedClient.MCP: frozenset({API}),
}


def delegated_scopes(client: DelegatedClient, requested: Iterable[str] = ()) -> tuple[str, ...]:
    """The scopes a delegated client's token carries: the default, plus what it asked for
    and its kind may have. Unknown or refused scopes are dropped, not granted."""
    granted = set(DELEGATED_DEFAULT_SCOPES) | (set(requested) & _MAY_ASK[client])
    return tuple(sorted(granted))


class InsufficientScope(Forbidden):
    """The token lacks a scope the command needs (RFC 6750 `insufficient_scope`)."""

    code = "insufficient_scope"


def require_scope(held: Iterable[str], needed: str) -> None:
    if needed not in set(held):
        raise InsufficientScope(
            f"this change needs a token with the {needed!r} scope; delegated clients do not "
            "get it by default",
            {"required_scope": needed},
        )
