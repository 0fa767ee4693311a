"""Push subscriptions: SSE at ``GET /v1/stream``, a WebSocket at ``/v1/ws`` (docs/push.md).

Browsers cannot set an ``Authorization`` header on EventSource or WebSocket, so the access
token may also come as ``?access_token=`` (both routes) or, on the WebSocket, in a first
message ``{"type": "auth", "access_token": ...}``.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import ServicesDep, TokenMissing, authenticate_token, get_services
from api.contract import RETRY_AFTER
from api.dependencies import get_push
from api.models import ErrorResponse
from api.streaming import wire
from api.streaming.sse import EventStreamResponse
from api.streaming.websocket import first_message_auth, http_view, pump, refuse
from commands.bootstrap import Services
from commands.ports.push import Focus, Push, Subscription, Viewer
from domain.errors import DomainError, InvalidInput, RateLimited, Unavailable
from domain.storable import MAX_POSITION

router = APIRouter(prefix="/v1", tags=["push"])
logger = logging.getLogger("cairn.push")
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
    push: Push,
    request: Request,
    services: Services,
    token: str,
    position: int | None,
    focus: Focus | None = None,
) -> Subscription:
    caller, claims = await run_in_threadpool(authenticate_token, request, services, token)

    async def reauthorize() -> None:
        try:
            await run_in_threadpool(authenticate_token, request, services, token)
        except RateLimited:
            pass  # only raised once the session, user and device checks have passed
        except Unavailable as exc:  # cannot check now; the token's expiry still ends it
            logger.warning("push: re-checking a subscriber failed (%s); will retry", exc)

    viewer = Viewer(str(caller.tenant_id), caller.user_id, caller.device_id, caller.capabilities)
    return push.subscribe(
        viewer,
        last_event_id=position,
        reauthorize=reauthorize,
        expires_at=float(claims.expires_at),
        focus=focus,
    )


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
        # The stream checks its token itself (a query parameter for EventSource), and with
        # it the caller's rate limit, so api/contract.py cannot see it among the dependencies.
        429: {
            "model": ErrorResponse,
            "description": "Too many requests from this caller",
            "headers": RETRY_AFTER,
        },
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
        services = get_services(http_view(websocket))
        token = _bearer(websocket.headers.get("authorization")) or access_token
        first_position: Any = None
        if not token:
            token, first_position = await first_message_auth(websocket)
        if not token:
            raise TokenMissing("send an access token")
        position = _position(websocket.headers.get("last-event-id"), last_event_id)
        if position is None and first_position is not None:
            position = _position(None, str(first_position))
        focus = _run_focus(run_id)
        session = await _open(push, http_view(websocket), services, token, position, focus)
    except DomainError as exc:
        await refuse(websocket, exc)
        return
    except (TimeoutError, WebSocketDisconnect):
        with suppress(Exception):
            await websocket.close(wire.CLOSE_BASE + 401)
        return
    try:
        await pump(websocket, session)
    finally:
        session.close()
