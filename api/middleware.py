"""Request and correlation ids on every response, including errors raised deep inside."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
CORRELATION_ID_HEADER = "x-correlation-id"
SCOPE_KEY = "cairn.ids"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_REQUEST_ID_RAW = REQUEST_ID_HEADER.encode()
_CORRELATION_ID_RAW = CORRELATION_ID_HEADER.encode()
_ID_HEADERS = (_REQUEST_ID_RAW, _CORRELATION_ID_RAW)

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_request_id() -> str:
    """What `uuid.uuid4().hex` gives (a random UUID of version 4, in hex), without making a
    `UUID` of the bytes: that costs more than drawing them (decision 0063)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # the version, 4
    raw[8] = raw[8] & 0x3F | 0x80  # the variant, RFC 4122
    return raw.hex()


def _incoming(scope: Scope, raw: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == raw:
            text = value.decode("latin-1")
            # A caller's id is echoed only if it is safe to put in logs and headers.
            return text if _VALID_ID.match(text) else None
    return None


def ids_of(scope: Scope) -> tuple[str, str]:
    ids = scope.get(SCOPE_KEY)
    if ids is None:
        return ("", "")
    request_id, correlation_id = ids
    return str(request_id), str(correlation_id)


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): cheap, and streaming responses pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope, _REQUEST_ID_RAW) or new_request_id()
        correlation_id = _incoming(scope, _CORRELATION_ID_RAW) or request_id
        scope[SCOPE_KEY] = (request_id, correlation_id)
        request_token = request_id_var.set(request_id)
        correlation_token = correlation_id_var.set(correlation_id)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _ID_HEADERS]
                headers.append((_REQUEST_ID_RAW, request_id.encode()))
                headers.append((_CORRELATION_ID_RAW, correlation_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            request_id_var.reset(request_token)
            correlation_id_var.reset(correlation_token)
