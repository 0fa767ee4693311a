"""The one place where errors become HTTP: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from eventsourcing.persistence import DataError, IntegrityError, InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.middleware import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, ids_of
from api.models import ErrorDetail, ErrorResponse
from commands.dispatch import RETRY_AFTER_S
from commands.ports.connections import ReauthNeeded
from domain import errors as domain

logger = logging.getLogger("cairn.api")

STATUS_BY_ERROR: dict[type[domain.DomainError], int] = {
    domain.InvalidInput: 400,
    domain.NotAuthenticated: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.InvalidTransition: 409,
    # A connected account whose grant died: the request is fine, the connection's state is
    # not; only the person can fix it by reconnecting (code `reauth_required`).
    ReauthNeeded: 409,
    domain.Unprocessable: 422,
    domain.RateLimited: 429,
    domain.Unavailable: 503,
}

CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


class _ErrorJSON(JSONResponse):
    """ASCII with escapes: a message may quote what the caller sent, and a lone surrogate in
    it must not make the answer itself fail to encode (a 500 instead of the 4xx)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, details=details or {}))
    request_id, correlation_id = ids_of(request.scope)
    all_headers = dict(headers or {})
    if request_id:
        # Also set here: a 500 is sent by Starlette's outermost middleware, past ours.
        all_headers[REQUEST_ID_HEADER] = request_id
        all_headers[CORRELATION_ID_HEADER] = correlation_id
    return _ErrorJSON(body.model_dump(mode="json"), status_code=status, headers=all_headers)


def status_for(error: domain.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.DomainError)
    status = status_for(exc)
    headers = None
    if "retry_after" in exc.details and status in (429, 503):
        headers = {"Retry-After": str(int(exc.details["retry_after"]))}
    elif status == 503:
        # Whatever is down, the client is told when to try again, never left to guess.
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return error_response(request, status, exc.code, exc.message, exc.details, headers=headers)


async def _store_conflict(request: Request, exc: Exception) -> JSONResponse:
    """Backstop: a lost optimistic-concurrency race outside the command dispatch."""
    return error_response(
        request, 409, "conflict", "the state changed at the same time as this request; retry"
    )


async def _store_refused_data(request: Request, exc: Exception) -> JSONResponse:
    """Backstop: data the event store cannot store (an oversized save, a value that cannot be
    written) that the boundary checks let through. The value itself is not echoed: it may hold
    secrets."""
    logger.warning("event store refused data on %s %s: %r", request.method, request.url.path, exc)
    return error_response(
        request,
        422,
        "unstorable",
        "the event store cannot store what this request asked for",
        {"reason": type(exc).__name__},
    )


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Backstop: the event store down outside the command dispatch (a query, a caller's
    account being loaded)."""
    logger.warning("event store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        request,
        503,
        "unavailable",
        "the event store is unavailable; retry shortly",
        {"retry_after": RETRY_AFTER_S},
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    try:
        default = HTTPStatus(exc.status_code).phrase
    except ValueError:
        default = "error"
    message = exc.detail if isinstance(exc.detail, str) else default
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, exc.status_code, code, message, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Input values are left out on purpose: they may hold secrets.
    problems = [
        {
            "location": list(err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    first = problems[0] if problems else {"location": [], "message": "invalid request"}
    where = ".".join(str(part) for part in first["location"])
    message = f"invalid request: {where}: {first['message']}" if where else "invalid request"
    return error_response(request, 422, "validation_failed", message, {"errors": problems})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id, _ = ids_of(request.scope)
    logger.error(
        "unhandled error on %s %s (request %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return error_response(
        request,
        500,
        "internal_error",
        f"internal error; quote request id {request_id} when reporting it",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(domain.DomainError, _domain_error)
    app.add_exception_handler(IntegrityError, _store_conflict)
    app.add_exception_handler(DataError, _store_refused_data)
    app.add_exception_handler(OperationalError, _store_unavailable)
    app.add_exception_handler(InterfaceError, _store_unavailable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
