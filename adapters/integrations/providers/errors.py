"""Provider error answers as the executor's `IntegrationError`, by the provider's own signals.

Google says why in `error.errors[].reason` (a 403 is a rate limit only when the reason says
so); Graph says how long to wait in `Retry-After`. Only short machine codes are kept: an error
text may repeat personal data or credentials into the run's events.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from commands.ports.integrations import ErrorKind, IntegrationError

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Google's reasons for "slow down": retried with backoff. Any other 403 is a refusal.
GOOGLE_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Longest wait a provider can impose on one attempt; a longer Retry-After still fails the
# attempt, and the step's retry budget decides what follows.
MAX_RETRY_AFTER_S = 120.0


def json_object(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def google_reason(response: httpx.Response) -> str | None:
    """The first `reason` of a Google error body (`{"error": {"errors": [{"reason": ...}]}}`)."""
    problem = json_object(response).get("error")
    errors = problem.get("errors") if isinstance(problem, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
        if isinstance(reason, str) and _CODE.fullmatch(reason):
            return reason
    status = problem.get("status") if isinstance(problem, dict) else None
    return status if isinstance(status, str) and _CODE.fullmatch(status) else None


def graph_code(response: httpx.Response) -> str | None:
    """`error.code` of a Graph error body."""
    problem = json_object(response).get("error")
    code = problem.get("code") if isinstance(problem, dict) else None
    return code if isinstance(code, str) and _CODE.fullmatch(code) else None


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), capped."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def classify(
    response: httpx.Response, *, provider: str, action: str, code: str | None
) -> IntegrationError:
    """The error for a non-success answer; `code` is the provider's machine reason."""
    status = response.status_code
    summary = f"HTTP {status}" + (f" ({code})" if code else "")
    wait = retry_after(response)

    def error(kind: ErrorKind) -> IntegrationError:
        return IntegrationError(
            kind, summary, provider=provider, action=action, status=status, retry_after=wait
        )

    if status == 429 or (status == 403 and code in GOOGLE_RATE_REASONS):
        return error(ErrorKind.RATE_LIMITED)
    if status == 408:
        return error(ErrorKind.TIMEOUT)
    if status >= 500:
        return error(ErrorKind.SERVER_ERROR)
    return error(ErrorKind.REJECTED)
