"""When to send a request again, and after how long (pure: no I/O, no clock).

A request is sent again only when doing so cannot apply it twice: a query, or a command that
carries an `Idempotency-Key` (the same key on every attempt, so Cairn replays the first
answer or runs it once). It is sent again after:

- no answer (connection refused or dropped, timeout): the command may or may not have been
  applied; the key makes the retry safe either way;
- 503 `unavailable` and 429 `rate_limited`: after the answer's `Retry-After`;
- 409 `idempotency_request_in_flight`: our own earlier attempt is still running;
- 409 `projection_behind` on a query that waited for a position: the view is catching up.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from clients.sdk.errors import ApiError

RETRIED_CODES = frozenset({"idempotency_request_in_flight", "projection_behind"})
RETRIED_STATUSES = frozenset({429, 503})


def new_idempotency_key() -> str:
    """A fresh key: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` sends at most (the first included); between them an exponential backoff
    from `base_delay`, or the server's `Retry-After`, never more than `max_delay`."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 30.0

    def backoff(self, attempt: int) -> float:
        """The wait before attempt `attempt + 1` when the server named none."""
        return min(self.max_delay, self.base_delay * 2.0**attempt)

    def after_no_answer(self, attempt: int, *, safe: bool) -> float | None:
        """Wait this long and send again, or None: give up (raise)."""
        if not safe or attempt + 1 >= self.attempts:
            return None
        return self.backoff(attempt)

    def after_error(self, error: ApiError, attempt: int, *, safe: bool) -> float | None:
        """Wait this long and send again, or None: raise `error`."""
        if not safe or attempt + 1 >= self.attempts:
            return None
        if error.status not in RETRIED_STATUSES and error.code not in RETRIED_CODES:
            return None
        if error.retry_after is not None:
            return min(self.max_delay, error.retry_after)
        return self.backoff(attempt)


NO_RETRIES = RetryPolicy(attempts=1)
