"""The integration port: perform one catalogue action at a connected provider, exactly once.

The executor (`commands/runs/execute.py`) depends on the types here. `adapters/executor/`
implements them: a registry of typed action handlers and an HTTP client that speaks to a
provider (or a connector in front of it). docs/executor.md describes the guarantees.

Exactly once rests on one rule every implementation keeps: the `idempotency_key` is sent to the
provider with the request, and the provider performs the action at most once per key (a repeat
gets the stored answer). The key is derived from run and step, so a retry, a resumed run after a
crash and a second worker all send the same key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel


class ErrorKind(StrEnum):
    """Why a provider call failed; the retry policy decides which kinds are retried."""

    TIMEOUT = "timeout"  # no answer in time: the action may or may not have happened
    CONNECTION = "connection"  # could not connect, or the connection broke before an answer
    SERVER_ERROR = "server_error"  # 5xx
    RATE_LIMITED = "rate_limited"  # 429
    # 409: a request with the same idempotency key is still being processed (IETF
    # httpapi idempotency draft). The outcome is coming, so asking again later is right.
    IN_FLIGHT = "in_flight"
    REJECTED = "rejected"  # any other 4xx: the provider refused this request as sent
    UNSUPPORTED = "unsupported"  # no such provider or action is configured here
    BAD_RESPONSE = "bad_response"  # 2xx, but not a JSON object: a retry gets the same answer
    # The person's connection is missing or its grant is dead (`commands.ports.connections`):
    # no retry can cure it, only the person connecting again.
    NEEDS_PERSON = "needs_person"


# Every one of these is safe to retry only because the idempotency key goes with each attempt.
RETRYABLE_KINDS: frozenset[ErrorKind] = frozenset(
    {
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        ErrorKind.SERVER_ERROR,
        ErrorKind.RATE_LIMITED,
        ErrorKind.IN_FLIGHT,
    }
)


class IntegrationError(Exception):
    """A provider call that did not give a result. `message` never repeats the provider's
    error text (which may echo credentials or personal data): only status and a short code."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        provider: str,
        action: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.provider = provider
        self.action = action
        self.status = status
        # Seconds the provider itself asked to wait (Graph's `Retry-After`): the executor waits
        # at least this long before the next attempt, whatever its own backoff says.
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether the kind is retryable at all; a `RetryPolicy` may narrow it per action."""
        return self.kind in RETRYABLE_KINDS


class Integrations(Protocol):
    """Connected providers, as the executor sees them."""

    def supports(self, provider: str, action: str) -> bool:
        """Whether `action` can be performed at `provider` here; asked before a run starts, so
        a plan naming an unknown provider fails before any of its steps acts."""
        ...

    def perform(
        self,
        tenant: str,
        provider: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
        person: str | None = None,
    ) -> dict[str, Any]:
        """Perform `action` once per `idempotency_key` and return the provider's result.

        `parameters` are already validated (JSON-ready); `person` is whose connected account
        acts (the run's person). Raises `IntegrationError` when there is no result; a repeat
        with the same key returns the first result and acts no more.
        """
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how fast a step is tried again, and for which errors."""

    attempts: int = 3  # provider calls per step in one execution, the first included
    initial_backoff: float = 0.5  # seconds before the second attempt
    multiplier: float = 2.0
    max_backoff: float = 10.0
    retry_on: frozenset[ErrorKind] = RETRYABLE_KINDS
    # A step started this many times (across crashes and workers) without an outcome fails
    # the run: a step that kills its worker every time must not be tried for ever.
    max_starts: int = 10
    # Seconds to keep asking (at the backoff pace, within one attempt) while the provider
    # answers that the same key is still being processed: another worker's request, or one of a
    # crashed worker, is being performed, and its result is what this attempt will get. Not a
    # failure, so it does not use up `attempts`; after this long it counts as one.
    in_flight_patience: float = 60.0
    # False for an action whose provider takes no idempotency key (an upstream MCP tool,
    # decision 0035): an attempt that was started and left no outcome may have acted, so the
    # executor asks the person (the step escalates) instead of trying it again by itself.
    repeat_unknown: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.max_starts < 1:
            raise ValueError("attempts and max_starts must be at least 1")
        if self.initial_backoff < 0 or self.multiplier < 1 or self.max_backoff < 0:
            raise ValueError("backoff must be non-negative and must not shrink")
        if self.in_flight_patience < 0:
            raise ValueError("in_flight_patience must be non-negative")
        if not self.retry_on <= RETRYABLE_KINDS:
            # Retrying a rejection or an unparseable 2xx could only repeat the same answer.
            raise ValueError(f"only {sorted(RETRYABLE_KINDS)} can be retried")

    def should_retry(self, error: IntegrationError, failures: int) -> bool:
        """After `failures` failed attempts (this one included), is another one allowed?"""
        return error.kind in self.retry_on and failures < self.attempts

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed attempt."""
        delay = self.initial_backoff * self.multiplier ** max(failures - 1, 0)
        return float(min(delay, self.max_backoff))


class ActionHandler(Protocol):
    """One catalogue action: its typed parameters, its timeout and its retry policy."""

    @property
    def name(self) -> str: ...

    @property
    def timeout(self) -> float: ...

    @property
    def retry(self) -> RetryPolicy: ...

    def validate(self, parameters: Mapping[str, Any]) -> BaseModel:
        """The typed parameters; raises `InvalidParameters` (nothing is called)."""
        ...

    def perform(
        self,
        integrations: Integrations,
        tenant: str,
        provider: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        person: str | None = None,
    ) -> dict[str, Any]:
        """Validate, call the provider through `integrations` within `timeout`, check the
        result. Raises `InvalidParameters` or `IntegrationError`."""
        ...


class ActionHandlers(Protocol):
    """The registry the executor looks actions up in."""

    def get(self, action: str) -> ActionHandler:
        """The handler of `action`; raises `UnknownAction` for anything else."""
        ...
