"""A push subscription over a WebSocket: the first-message login, refusals, and the pump."""

from __future__ import annotations

import json
import time
from contextlib import aclosing, suppress
from typing import Any

import anyio
from fastapi import Request, WebSocket, WebSocketDisconnect

from api.errors import status_for
from api.streaming import wire
from api.streaming.tracing import PushSpans
from commands.ports.push import Subscription
from domain.errors import DomainError, NotAuthenticated

AUTH_MESSAGE_TIMEOUT_S = 10.0


def http_view(websocket: WebSocket) -> Request:
    # The shared auth checks read the method and ids of an HTTP request; a WebSocket handshake
    # is a GET with the same headers, so it is checked as one.
    return Request({**websocket.scope, "type": "http", "method": "GET"})


async def first_message_auth(websocket: WebSocket) -> tuple[str | None, Any]:
    """The access token and position of a first `{"type": "auth", ...}` message."""
    with anyio.fail_after(AUTH_MESSAGE_TIMEOUT_S):
        text = await websocket.receive_text()
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise NotAuthenticated('the first message must be {"type": "auth", "access_token": ...}')
    token = message.get("access_token")
    return (str(token) if token else None), message.get("last_event_id")


async def refuse(websocket: WebSocket, exc: DomainError) -> None:
    """Say why in a `closed` message, then close with 4000 + the HTTP status of the error."""
    status = status_for(exc)
    error = {"code": exc.code, "message": exc.message, "details": exc.details}
    with suppress(Exception):
        await websocket.send_text(json.dumps({"type": "closed", "position": 0, "error": error}))
        await websocket.close(wire.CLOSE_BASE + status)


async def pump(websocket: WebSocket, session: Subscription) -> None:
    """Send the session's frames until it ends or the client goes away."""
    async with anyio.create_task_group() as group:

        async def until_disconnect() -> None:
            # Incoming messages mean nothing after auth; reading them notices a disconnect.
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(until_disconnect)
        spans = PushSpans("websocket")
        try:
            async with aclosing(session.frames()) as frames:
                async for frame in frames:
                    started = time.time_ns()
                    for text in wire.ws_texts(frame):
                        await websocket.send_text(text)
                    spans.sent(frame, started)
                    code = wire.ws_close_code(frame)
                    if code is not None:
                        await websocket.close(code)
                        break
        except (WebSocketDisconnect, OSError):
            pass
        group.cancel_scope.cancel()
