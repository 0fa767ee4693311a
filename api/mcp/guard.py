"""The OAuth 2.1 resource-server side of `/mcp` (RFC 6750, 8707, 9728), in front of the SDK.

Every request needs a bearer token that Cairn issued for exactly this resource (audience =
the MCP server's URL; a token for the API or any other resource is 401), from a live session
of an active user. Without one: 401 with a challenge naming the protected-resource metadata
and the scopes to ask for; an expired token gets the same fresh challenge. A `tools/call`
whose tool needs a scope the token lacks is 403 `insufficient_scope` naming it (step-up).
The token is Cairn's alone: nothing of it is ever passed to another service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import caller_of
from commands.base import Caller
from commands.bootstrap import Services
from commands.identity.principals import authenticate
from commands.mcp.composition import McpServices
from commands.mcp.tools import scope_for
from commands.ports.sessions import AccessClaims
from domain.errors import NotAuthenticated, Unavailable
from domain.identity.scopes import MCP_SCOPES

MAX_BODY_BYTES = 1_000_000
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
SCOPE_KEY = "cairn.mcp"


@dataclass(frozen=True)
class McpCall:
    """Who calls, as the guard established it, handed to the tool handlers in the scope."""

    caller: Caller
    claims: AccessClaims
    services: Services
    mcp: McpServices


def challenge(mcp: McpServices, error: str | None = None, description: str = "") -> str:
    parts = [
        f'resource_metadata="{mcp.oauth.issuer}{METADATA_PATH}"',
        f'scope="{" ".join(MCP_SCOPES)}"',
    ]
    if error:
        parts.insert(0, f'error="{error}"')
        parts.append(f'error_description="{description}"')
    return "Bearer " + ", ".join(parts)


async def _answer(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    raw = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


def needed_scope(body: bytes) -> str | None:
    """The scope this JSON-RPC message needs beyond a valid token: a tool's own for
    `tools/call`; None for everything else (listing tools, pings, bad JSON the SDK answers)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return scope_for(name) if isinstance(name, str) else None


class McpGuard:
    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        services: Services | None = getattr(state, "services", None)
        mcp: McpServices | None = getattr(state, "mcp", None)
        if services is None or mcp is None:
            await _answer(send, 503, {"error": "unavailable"}, {"Retry-After": "2"})
            return
        request = Request(scope, receive)
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            missing = {"error": "invalid_token", "error_description": "a bearer token is required"}
            await _answer(send, 401, missing, {"WWW-Authenticate": challenge(mcp)})
            return
        try:
            claims = mcp.tokens.tokens.verify_access_token(token.strip())
            principal = await run_in_threadpool(
                authenticate, claims, services.identity, services.principals
            )
        except NotAuthenticated as refused:
            reason = refused.message
            head = {"WWW-Authenticate": challenge(mcp, "invalid_token", reason)}
            await _answer(send, 401, {"error": "invalid_token", "error_description": reason}, head)
            return
        except Unavailable:
            await _answer(send, 503, {"error": "unavailable"}, {"Retry-After": "2"})
            return
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            await _answer(send, 413, {"error": "request_too_large"}, {})
            return
        needed = needed_scope(body)
        if needed is not None and needed not in claims.scopes:
            text = f"this tool needs the {needed!r} scope"
            head = {"WWW-Authenticate": challenge(mcp, "insufficient_scope", text)}
            await _answer(send, 403, {"error": "insufficient_scope", "scope": needed}, head)
            return
        caller = caller_of(request, claims, principal)
        scope[SCOPE_KEY] = McpCall(caller, claims, services, mcp)
        await self.inner(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body the guard read, then the connection's own messages (its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
