"""One family of domain errors, each with a stable machine-readable code.

The API maps these to HTTP status codes in one place (api/errors.py); the domain never knows
about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error Cairn reports to a caller on purpose."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The state changed under the caller (optimistic concurrency) or a duplicate."""

    code = "conflict"


class InvalidTransition(DomainError):
    """The aggregate is not in a state that allows this command."""

    code = "invalid_transition"


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class Forbidden(DomainError):
    code = "forbidden"


class Unavailable(DomainError):
    """A server Cairn depends on is down; the same request may succeed later."""

    code = "unavailable"


class RateLimited(DomainError):
    """Too many requests in the window; `details.retry_after` says how many seconds to wait."""

    code = "rate_limited"


class Unprocessable(DomainError):
    """Well-formed but cannot be processed as sent (e.g. a reused Idempotency-Key)."""

    code = "unprocessable"
