"""One subscription: catch up from the store, then follow the hub, with no gap and no duplicate.

Why it is exact: the subscriber is registered with the hub *before* the store is read, so an
event is either fanned out after registration (it lands in the buffer) or was fanned out
before it, and then it was stored before the read began (the read sees it). Catch-up yields
the store's events in order and remembers the highest sequence examined; afterwards only
buffered events above it are sent. If the buffer overflows while catching up (a long replay
with a busy stream), catch-up simply reads on from the store and buffering starts over.

Positions are stream sequences (``Last-Event-ID``). Every frame after ``ready`` keeps the
invariant that the client has been sent every visible event up to ``position``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from adapters.push.events import PushEvent
from adapters.push.hub import Hub, Subscriber
from adapters.push.store import StoreReader
from commands.ports.push import Focus, Viewer
from domain.errors import DomainError, Forbidden, NotAuthenticated

RESYNC_REQUIRED: Final = "resync_required"
FrameKind = Literal["event", "ready", "heartbeat", "resync_required", "closed"]
Reauthorize = Callable[[], Awaitable[None]]
MAX_EVENTS_PER_FRAME = 256


@dataclass(frozen=True, slots=True)
class Frame:
    kind: FrameKind
    position: int = 0
    # For "event": one or more events in order (whatever was ready at once goes out in one
    # write: under bursts that saves a write and a task switch per event and subscriber).
    events: tuple[PushEvent, ...] = ()
    error: dict[str, Any] = field(default_factory=dict)
    status: int = 0  # for errors: the HTTP status the same problem has on other routes


def status_of(exc: DomainError) -> int:
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    return 503


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


class PushSession:
    def __init__(
        self,
        hub: Hub,
        reader: StoreReader,
        viewer: Viewer,
        *,
        last_event_id: int | None,
        heartbeat_s: float,
        reauthorize: Reauthorize | None = None,
        reauth_s: float = 60.0,
        expires_at: float | None = None,
        focus: Focus | None = None,
    ) -> None:
        self.hub = hub
        self.reader = reader
        self.viewer = viewer
        self.last_event_id = last_event_id
        self.heartbeat_s = heartbeat_s
        self.reauthorize = reauthorize
        self.reauth_s = reauth_s
        self.expires_at = expires_at
        self._next_reauth = time.monotonic() + reauth_s
        # Registered at once, before anything is read from the store (see the module doc);
        # OverflowError when the process has no room for another subscriber.
        self.focus = focus
        self._subscriber: Subscriber | None = hub.register(viewer, focus)
        self.position = hub.position if last_event_id is None else last_event_id

    def close(self) -> None:
        """Stop buffering for this subscriber (idempotent; also after a cancelled stream)."""
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            self.hub.unregister(subscriber)

    async def frames(self) -> AsyncGenerator[Frame, None]:
        subscriber = self._subscriber
        if subscriber is None:
            return  # already closed
        try:
            if self.last_event_id is not None:
                async for frame in self._catch_up(subscriber, self.last_event_id):
                    yield frame
                    if frame.kind == RESYNC_REQUIRED:
                        return
            yield Frame("ready", self.position)
            # The live loop is inline, not another generator: it runs once per event and
            # subscriber, and each generator layer costs a few microseconds there.
            next_beat = time.monotonic() + self.heartbeat_s
            while True:
                if subscriber.closed is not None:
                    bye = error_body("unavailable", subscriber.closed, resume_from=self.position)
                    yield Frame("closed", self.position, error=bye, status=503)
                    return
                if subscriber.overflowed:
                    yield self._too_slow()
                    return
                now = time.monotonic()
                if now >= next_beat:  # also while events flow: the auth checks must run
                    problem, problem_status = await self._check_auth()
                    if problem is not None:
                        yield Frame("closed", self.position, error=problem, status=problem_status)
                        return
                    yield Frame("heartbeat", self.position)
                    next_beat = time.monotonic() + self.heartbeat_s
                    continue
                if subscriber.buffer:
                    ready: list[PushEvent] = []
                    while subscriber.buffer and len(ready) < MAX_EVENTS_PER_FRAME:
                        event = subscriber.buffer.popleft()
                        if event.seq > self.position:  # else: already sent by the catch-up
                            self.position = event.seq
                            ready.append(event)
                    if ready:
                        yield Frame("event", self.position, events=tuple(ready))
                    continue
                subscriber.wakeup.clear()  # the buffer is empty; offer() sets it again
                if self.hub.ticking:
                    await subscriber.wakeup.wait()  # the hub's ticker wakes it for heartbeats
                    continue
                try:
                    async with asyncio.timeout(next_beat - now):
                        await subscriber.wakeup.wait()
                except TimeoutError:
                    pass
        except DomainError as exc:  # the store became unreachable while catching up
            problem = error_body(exc.code, exc.message, resume_from=self.position)
            yield Frame("closed", self.position, error=problem, status=status_of(exc))
        finally:
            self.close()

    async def _catch_up(self, subscriber: Subscriber, after: int) -> AsyncIterator[Frame]:
        last = await self.reader.last_sequence()
        if after > last:
            yield Frame(
                RESYNC_REQUIRED,
                last,
                status=409,
                error=error_body(
                    RESYNC_REQUIRED,
                    f"position {after} is unknown: the stream ends at {last}. Reload your state "
                    "and subscribe again without Last-Event-ID.",
                    reason="position_unknown",
                    last_event_id=after,
                    last_position=last,
                ),
            )
            return
        self.position = after
        focus = self.focus
        if focus is None:
            subject_filter = self.reader.tenant_filter(self.viewer.tenant)
        else:  # one subject: the server reads only that aggregate's messages
            subject_filter = self.reader.aggregate_filter(
                self.viewer.tenant, focus.aggregate_type, focus.aggregate_id
            )
        while True:
            async for page in self.reader.scan(subject_filter, self.position + 1):
                events = [PushEvent(message, self.reader.prefix) for message in page]
                self.position = max(self.position, page[-1].seq)
                visible = tuple(
                    e
                    for e in events
                    if (focus is None or focus.matches(e)) and self.hub.visible(self.viewer, e)
                )
                if visible:
                    yield Frame("event", visible[-1].seq, events=visible)
            # Everything stored up to `last` was stored before this pass began: examined.
            self.position = max(self.position, last)
            if not subscriber.overflowed:
                return
            subscriber.restart_buffering()
            last = await self.reader.last_sequence()

    def _too_slow(self) -> Frame:
        return Frame(
            RESYNC_REQUIRED,
            self.position,
            status=409,
            error=error_body(
                RESYNC_REQUIRED,
                f"this subscriber fell more than {self.hub.capacity} events behind; reconnect "
                f"with Last-Event-ID {self.position} to resume",
                reason="too_slow",
                resume_from=self.position,
            ),
        )

    async def _check_auth(self) -> tuple[dict[str, Any] | None, int]:
        """Long streams outlive tokens and sessions: end them when either ends."""
        if self.expires_at is not None and time.time() >= self.expires_at:
            message = (
                "the access token expired; reconnect with a fresh one and "
                f"Last-Event-ID {self.position}"
            )
            return error_body("token_expired", message, resume_from=self.position), 401
        if self.reauthorize is None or time.monotonic() < self._next_reauth:
            return None, 0
        self._next_reauth = time.monotonic() + self.reauth_s
        try:
            await self.reauthorize()
        except DomainError as exc:
            return error_body(exc.code, exc.message, resume_from=self.position), status_of(exc)
        return None, 0
