"""Push subscriptions: SSE at ``GET /v1/stream``, a WebSocket at ``/v1/ws`` (docs/push.md).

Browsers cannot set an ``Authorization`` header on EventSource or WebSocket, so the access
token may also come as ``?access_token=`` (both routes) or, on the WebSocket, in a first
message ``{"type": "auth", "access_token": ...}``.
"""

from __future__ import annotations

import json
import logging
from contextlib import aclosing, suppress
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from adapters.push import (
    Focus,
    PushService,
    PushSession,
    PushSettings,
    Viewer,
    Visibility,
    same_tenant,
    wire,
)
from api.auth import ServicesDep, TokenMissing, authenticate_token, get_services
from api.errors import ErrorResponse, status_for
from commands.bootstrap import Services
from commands.settings import CairnSettings
from domain.errors import DomainError, InvalidInput, NotAuthenticated, RateLimited, Unavailable
from domain.storable import MAX_POSITION

router = APIRouter(prefix="/v1", tags=["push"])
logger = logging.getLogger("cairn.push")
AUTH_MESSAGE_TIMEOUT_S = 10.0
RUN_AGGREGATE = "Run"  # the subject token of the Run aggregate's events


def _run_focus(run_id: str | None) -> Focus | None:
    if run_id in (None, ""):
        return None
    try:
        return Focus(RUN_AGGREGATE, str(UUID(str(run_id))))
    except ValueError as exc:
        raise InvalidInput(
            "run_id must be a run's id (a UUID)", {"run_id": str(run_id)[:40]}
        ) from exc


# ---- lifecycle (called from the app's lifespan) ------------------------------------------


async def start_push(
    app_state: State, settings: CairnSettings, visibility: Visibility = same_tenant
) -> PushService:
    """Connect this process's push side (one JetStream consumer) and put it on app.state.push."""
    service = await PushService.connect(
        settings.nats_url,
        settings.stream,
        settings.subject_prefix,
        PushSettings.from_env(settings.env),
        visibility,
    )
    app_state.push = service
    return service


async def stop_push(app_state: State) -> None:
    """End every subscription (clients see `closed`, then resume elsewhere) and disconnect."""
    service: PushService | None = getattr(app_state, "push", None)
    app_state.push = None
    if service is not None:
        await service.close()


def get_push(connection: HTTPConnection) -> PushService:
    service: PushService | None = getattr(connection.app.state, "push", None)
    if service is None:
        raise Unavailable("push subscriptions are not running in this process")
    return service


# ---- authentication ----------------------------------------------------------------------


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _position(header: str | None, query: str | None) -> int | None:
    # The header wins: a browser's EventSource sends it on reconnect, with the URL unchanged.
    raw = header if header not in (None, "") else query
    if raw in (None, ""):
        return None
    try:
        position = int(str(raw))
    except ValueError:
        position = -1
    if not 0 <= position <= MAX_POSITION:
        raise InvalidInput(
            "Last-Event-ID must be a stream position (a whole number from 0 to 2^63-1)",
            {"last_event_id": str(raw)[:40]},
        )
    return position


async def _open(
    push: PushService,
    request: Request,
    services: Services,
    token: str,
    position: int | None,
    focus: Focus | None = None,
) -> PushSession:
    caller, claims = await run_in_threadpool(authenticate_token, request, services, token)

    async def reauthorize() -> None:
        try:
            await run_in_threadpool(authenticate_token, request, services, token)
        except RateLimited:
            pass  # only raised once the session, user and device checks have passed
        except Unavailable as exc:  # cannot check now; the token's expiry still ends it
            logger.warning("push: re-checking a subscriber failed (%s); will retry", exc)

    viewer = Viewer(str(caller.tenant_id), caller.user_id, caller.device_id, caller.capabilities)
    try:
        return PushSession(
            push.hub,
            push.reader,
            viewer,
            last_event_id=position,
            heartbeat_s=push.settings.heartbeat_s,
            reauthorize=reauthorize,
            reauth_s=push.settings.reauth_s,
            expires_at=float(claims.expires_at),
            focus=focus,
        )
    except OverflowError as exc:
        raise Unavailable("this server has no room for another subscriber; retry") from exc


# ---- Server-Sent Events ------------------------------------------------------------------


class EventStreamResponse(Response):
    """Sends the session's frames as they come, and ends the subscription as soon as the client
    goes away (not at the next write). Frames are sent straight from the session's generator:
    every wrapping generator would be crossed by each wake-up of each subscriber."""

    media_type = "text/event-stream"

    def __init__(self, session: PushSession) -> None:
        self.session = session
        self.status_code = 200
        self.background = None
        self.init_headers(
            {
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # proxies must not buffer a stream
                "Referrer-Policy": "no-referrer",  # the URL may hold an access token
            }
        )

    async def _respond(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        await send(start)
        await send({"type": "http.response.body", "body": wire.SSE_PREAMBLE, "more_body": True})
        async with aclosing(self.session.frames()) as frames:
            async for frame in frames:
                body = wire.sse(frame)
                await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def respond() -> None:
                    with suppress(OSError):
                        await self._respond(send)
                    group.cancel_scope.cancel()

                group.start_soon(respond)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()
        finally:
            self.session.close()


@router.get(
    "/stream",
    operation_id="streamEvents",
    response_class=Response,  # documented as SSE below; errors before the stream are JSON
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "SSE stream of the caller's tenant's events (docs/push.md)",
        },
        400: {"model": ErrorResponse, "description": "Invalid Last-Event-ID or run_id"},
        401: {"model": ErrorResponse, "description": "No valid access token"},
        503: {"model": ErrorResponse, "description": "Push not running here, or full"},
    },
)
async def stream_events(
    request: Request,
    services: ServicesDep,
    access_token: Annotated[
        str | None, Query(description="For EventSource, which cannot send headers.")
    ] = None,
    last_event_id: Annotated[str | None, Query(description="Resume after this position.")] = None,
    run_id: Annotated[str | None, Query(description="Only the events of this run.")] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> EventStreamResponse:
    """Events of the caller's tenant as Server-Sent Events (`id:` = stream position). With
    `run_id`, only that run's events: follow one run without polling, then read it once with
    `GET /v1/runs/{id}?after=<the last event's id>`."""
    push = get_push(request)
    token = _bearer(authorization) or access_token
    if not token:
        raise TokenMissing("send an access token: Authorization: Bearer, or ?access_token=")
    position = _position(last_event_id_header, last_event_id)
    focus = _run_focus(run_id)
    return EventStreamResponse(await _open(push, request, services, token, position, focus))


# ---- WebSocket ---------------------------------------------------------------------------


def _http_view(websocket: WebSocket) -> Request:
    # The shared auth checks read the method and ids of an HTTP request; a WebSocket handshake
    # is a GET with the same headers, so it is checked as one.
    return Request({**websocket.scope, "type": "http", "method": "GET"})


async def _first_message_auth(websocket: WebSocket) -> tuple[str | None, Any]:
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


async def _refuse(websocket: WebSocket, exc: DomainError) -> None:
    status = status_for(exc)
    error = {"code": exc.code, "message": exc.message, "details": exc.details}
    with suppress(Exception):
        await websocket.send_text(json.dumps({"type": "closed", "position": 0, "error": error}))
        await websocket.close(wire.CLOSE_BASE + status)


@router.websocket("/ws")
async def websocket_events(
    websocket: WebSocket,
    access_token: str | None = None,
    last_event_id: str | None = None,
    run_id: str | None = None,
) -> None:
    """The same events as /v1/stream, one JSON text message each (`run_id`: one run's)."""
    await websocket.accept()
    try:
        push = get_push(websocket)
        services = get_services(_http_view(websocket))
        token = _bearer(websocket.headers.get("authorization")) or access_token
        first_position: Any = None
        if not token:
            token, first_position = await _first_message_auth(websocket)
        if not token:
            raise TokenMissing("send an access token")
        position = _position(websocket.headers.get("last-event-id"), last_event_id)
        if position is None and first_position is not None:
            position = _position(None, str(first_position))
        focus = _run_focus(run_id)
        session = await _open(push, _http_view(websocket), services, token, position, focus)
    except DomainError as exc:
        await _refuse(websocket, exc)
        return
    except (TimeoutError, WebSocketDisconnect):
        with suppress(Exception):
            await websocket.close(wire.CLOSE_BASE + 401)
        return
    try:
        await _pump(websocket, session)
    finally:
        session.close()


async def _pump(websocket: WebSocket, session: PushSession) -> None:
    async with anyio.create_task_group() as group:

        async def until_disconnect() -> None:
            # Incoming messages mean nothing after auth; reading them notices a disconnect.
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(until_disconnect)
        try:
            async with aclosing(session.frames()) as frames:
                async for frame in frames:
                    for text in wire.ws_texts(frame):
                        await websocket.send_text(text)
                    code = wire.ws_close_code(frame)
                    if code is not None:
                        await websocket.close(code)
                        break
        except (WebSocketDisconnect, OSError):
            pass
        group.cancel_scope.cancel()
