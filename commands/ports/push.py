"""Push subscriptions and audit replay, as the API asks for them (adapters/push provides them).

A subscription yields frames: a batch of events, or a control frame (`ready`, `heartbeat`,
`resync_required`, `closed`). The API only puts frames on the wire (SSE or WebSocket); what
they contain and when they come is the adapter's business. See docs/push.md and docs/audit.md.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# Checks the subscriber's token, session, user and device again; raises a DomainError if
# any of them ended (the stream then closes with that error).
Reauthorize = Callable[[], Awaitable[None]]


class PushedEvent(Protocol):
    """One stored event as subscribers and auditors see it."""

    @property
    def seq(self) -> int: ...
    @property
    def aggregate_type(self) -> str: ...
    @property
    def aggregate_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    def header(self, name: str) -> str | None: ...
    def as_dict(self) -> dict[str, Any]: ...
    def json(self) -> str: ...
    def sse(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """The authenticated subscriber, as the push side needs it."""

    tenant: str  # the tenant token of the event subjects (the tenant id as text)
    user_id: str
    device_id: str | None = None
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Focus:
    """One aggregate a subscription asked to follow (e.g. one run): only its events are sent.
    It narrows what the viewer may see, never widens it (the visibility rule still applies)."""

    aggregate_type: str  # the subject token, e.g. "Run"
    aggregate_id: str

    def matches(self, event: PushedEvent) -> bool:
        return event.aggregate_id == self.aggregate_id and event.aggregate_type == (
            self.aggregate_type
        )


class Frame(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def events(self) -> Sequence[PushedEvent]: ...
    @property
    def error(self) -> Mapping[str, Any]: ...
    @property
    def status(self) -> int:
        """For errors: the HTTP status the same problem has on other routes."""
        ...


class Subscription(Protocol):
    def frames(self) -> AsyncGenerator[Frame, None]:
        """Catch up from the asked position, then follow live; ends with the stream."""
        ...

    def close(self) -> None:
        """Stop following (idempotent; also after a cancelled stream)."""
        ...


@dataclass(frozen=True)
class AuditQuery:
    """Which of a tenant's events an audit page holds; the conditions combine (AND)."""

    aggregate_id: str | None = None
    aggregate_type: str | None = None
    correlation_id: str | None = None
    actor: str | None = None
    event_type: str | None = None  # "Aggregate.Event", "Event", or the full topic
    since: datetime | None = None  # stored at or after (the stream's own timestamp)
    until: datetime | None = None  # stored before


class AuditPage(Protocol):
    @property
    def events(self) -> Sequence[PushedEvent]: ...
    @property
    def next_after(self) -> int | None:
        """Pass as `after` for the next page; None: nothing more for now."""
        ...

    @property
    def examined_to(self) -> int:
        """The last stream position this page looked at (0 if none)."""
        ...


class Push(Protocol):
    @property
    def position(self) -> int:
        """The last stream position this process's feed fanned out (0 before any)."""
        ...

    def subscribe(
        self,
        viewer: Viewer,
        *,
        last_event_id: int | None,
        reauthorize: Reauthorize,
        expires_at: float,
        focus: Focus | None = None,
    ) -> Subscription:
        """Register a subscriber at once (Unavailable when this process has no room)."""
        ...

    async def audit_page(
        self,
        tenant: str,
        query: AuditQuery,
        *,
        capabilities: Iterable[str],
        asked_tenant: str | None,
        after: int,
        limit: int,
    ) -> AuditPage:
        """The tenant's events matching `query` in stream order, for a reader holding
        `audit.read` or `tenant.admin`."""
        ...


@dataclass(frozen=True)
class PushSettings:
    """The push side's knobs (CAIRN_PUSH_*, CAIRN_AUDIT_MAX_SCAN), as the one settings object
    hands them to the adapter: defined with the ports so that reading the settings does not
    import the adapter (and NATS) into every process."""

    heartbeat_s: float = 15.0  # SSE comment / WebSocket heartbeat message interval
    buffer: int = 1024  # events buffered per subscriber before it must resume from the store
    reauth_s: float = 60.0  # how often a long stream re-checks its session, user and device
    max_subscribers: int = 10_000  # per API process; more get 503
    feed_batch: int = 256  # messages asked for per pull of the process's consumer
    feed_heartbeat_s: float = 1.0  # the consumer's idle heartbeat; 3 missed -> new consumer
    audit_max_scan: int = 10_000  # messages one audit page may examine before it answers
