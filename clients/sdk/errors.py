"""What can go wrong talking to Cairn, as exceptions that carry the API's error code.

Every 4xx and 5xx answer of Cairn has the shape `{"error": {"code", "message", "details"}}`:
`code` is stable and machine-readable (e.g. `projection_behind`, `step_up_required`), the
message is for people. One exception class per HTTP status family, so a caller can catch
`NotFound` or branch on `error.code`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class CairnError(Exception):
    """Base of every error the SDK raises."""


class Unreachable(CairnError):
    """No answer from Cairn (connection refused or dropped, timeout) after the retries."""


class ApiError(CairnError):
    """Cairn answered with an error: `status`, `code`, `message`, `details`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequest(ApiError):
    """400: the request cannot be understood as sent."""


class NotAuthenticated(ApiError):
    """401: no valid access token, an expired or revoked session, or step-up needed."""


class Forbidden(ApiError):
    """403: the caller may not do this."""


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: a race lost, an answer already given, a view not yet at the position asked for."""


class Unprocessable(ApiError):
    """422: the body does not validate, or an Idempotency-Key was reused with another body."""


class RateLimited(ApiError):
    """429: slow down; `retry_after` says for how long."""


class Unavailable(ApiError):
    """503: a dependency of Cairn is down; `retry_after` says when to try again."""


class ServerError(ApiError):
    """Any other 5xx (a bug in Cairn: quote `request_id` when reporting it)."""


class StreamError(CairnError):
    """A push subscription ended with an error it cannot resume from (e.g. resync_required)."""

    def __init__(self, code: str, message: str, position: int | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.position = position


ERROR_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: NotAuthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
    503: Unavailable,
}


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (Cairn sends whole seconds; an HTTP date is read too)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_of(response: httpx.Response) -> ApiError:
    """The exception for an error answer; an answer not in Cairn's shape keeps its status."""
    code, message = f"http_{response.status_code}", response.reason_phrase
    details: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = error["code"]
        message = str(error.get("message", message))
        given = error.get("details")
        details = dict(given) if isinstance(given, dict) else {}
    cls = ERROR_BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else ApiError
    return cls(
        response.status_code,
        code,
        message,
        details,
        request_id=response.headers.get("X-Request-ID"),
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )
