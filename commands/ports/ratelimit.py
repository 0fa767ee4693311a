"""Rate limits per tenant, user and route class, and brute-force protection of the login routes.

Implemented by `adapters/ratelimit` on Redis. Route classes group routes of similar cost:
`auth` (login, refresh, step-up; never fails open), `command`, `query`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

AUTH_ROUTE_CLASS = "auth"


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until one more request would be allowed; 0.0 when this one was.
    retry_after: float
    # True when Redis could not be asked and the route class is configured to fail open.
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class FailedLogin:
    """What one recorded login failure led to, for the caller's security event."""

    account_failures: int
    address_failures: int
    # Seconds the account (or address) is now locked for; 0.0 if neither is.
    account_locked_for: float
    address_locked_for: float


class RateLimiter(Protocol):
    def hit(self, route_class: str, tenant: str, subject: str) -> RateLimitDecision:
        """Count one request of `subject` (a user id, or `addr:<ip>` before login) in `tenant`.

        A refused request is not counted. Raises Unavailable when Redis is down, unless the
        route class fails open (then an allowed, degraded decision).
        """
        ...

    def enforce(self, route_class: str, tenant: str, subject: str) -> RateLimitDecision:
        """`hit`, raising RateLimited (429, details.retry_after in whole seconds) if refused."""
        ...


class LoginGuard(Protocol):
    """Failures per account and per client address, each with a lockout that grows."""

    def check(self, account: str | None, address: str) -> None:
        """Before an attempt: RateLimited `login_locked` while either is locked."""
        ...

    def record_failure(self, account: str | None, address: str) -> FailedLogin: ...

    def record_success(self, account: str) -> None:
        """Reset the account's failures (the address keeps its count: one valid account
        must not let an address guess others' freely)."""
        ...


@dataclass(frozen=True, slots=True)
class RateCount:
    """One request of `subject` in `tenant` to count against `route_class`'s limit, handed to
    a store that may count it in the same round trip as its own first write (an idempotency
    record's begin) instead of a call of its own."""

    limiter: RateLimiter
    route_class: str
    tenant: str
    subject: str

    def enforce(self) -> RateLimitDecision:
        """Count it on its own (RateLimited if refused)."""
        return self.limiter.enforce(self.route_class, self.tenant, self.subject)
