"""In-process fan-out: the feed hands each event to the hub, the hub to its subscribers.

Everything here runs on the API's event loop and never awaits, so one slow subscriber cannot
hold up the feed or another subscriber: each has a bounded buffer, and one that falls behind
by more than its buffer is marked overflowed (its buffer dropped) and told to resume from its
last position instead of making the process hold events for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from adapters.push.events import PushEvent, StoredMessage
from adapters.push.visibility import Visibility, same_tenant
from commands.ports.push import Focus, Viewer

logger = logging.getLogger("cairn.push")
# Told of every event the feed hands on: (tenant, aggregate type, aggregate id token).
Watcher = Callable[[str, str, str], None]


class Subscriber:
    __slots__ = ("buffer", "capacity", "closed", "focus", "overflowed", "viewer", "wakeup")

    def __init__(self, viewer: Viewer, capacity: int, focus: Focus | None = None) -> None:
        self.viewer = viewer
        self.focus = focus
        self.capacity = capacity
        self.buffer: deque[PushEvent] = deque()
        self.overflowed = False
        self.closed: str | None = None  # why the hub closed it (shutdown)
        self.wakeup = asyncio.Event()

    def offer(self, event: PushEvent) -> None:
        if self.overflowed:
            return
        if len(self.buffer) >= self.capacity:
            self.overflowed = True
            self.buffer.clear()  # nothing of it will be sent: the store has it all
        else:
            self.buffer.append(event)
        self.wakeup.set()

    def restart_buffering(self) -> None:
        """Forget an overflow (during catch-up, which then reads on from the store)."""
        self.overflowed = False
        self.buffer.clear()


class Hub:
    def __init__(
        self,
        prefix: str,
        visibility: Visibility = same_tenant,
        *,
        capacity: int = 1024,
        max_subscribers: int = 10_000,
    ) -> None:
        self.prefix = prefix
        self.visibility = visibility
        self.capacity = capacity
        self.max_subscribers = max_subscribers
        self.position = 0  # the last sequence fanned out
        self.delivered = 0  # events offered to at least one subscriber (metrics)
        self._by_tenant: dict[str, set[Subscriber]] = {}
        self._count = 0
        self.watchers: list[Watcher] = []
        self._ticker: asyncio.Task[None] | None = None

    # Heartbeats: one ticker wakes every subscriber now and then, so an idle subscriber waits
    # without a timer of its own (a timer per wait was half of the fan-out's cost per event).

    @property
    def ticking(self) -> bool:
        return self._ticker is not None

    def start_ticker(self, interval: float) -> None:
        async def tick() -> None:
            while True:
                await asyncio.sleep(interval)
                self.wake_all()

        self._ticker = asyncio.get_running_loop().create_task(tick(), name="cairn-push-ticker")

    def stop_ticker(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()

    def wake_all(self) -> None:
        for group in self._by_tenant.values():
            for subscriber in group:
                subscriber.wakeup.set()

    @property
    def subscribers(self) -> int:
        return self._count

    def register(self, viewer: Viewer, focus: Focus | None = None) -> Subscriber:
        """Start buffering the viewer's events (only those of `focus`, if given). Everything
        fanned out after this call reaches the subscriber; everything before it is at or below
        the current ``position``."""
        if self._count >= self.max_subscribers:
            raise OverflowError(f"this process already serves {self._count} subscribers")
        subscriber = Subscriber(viewer, self.capacity, focus)
        self._by_tenant.setdefault(viewer.tenant, set()).add(subscriber)
        self._count += 1
        return subscriber

    def unregister(self, subscriber: Subscriber) -> None:
        group = self._by_tenant.get(subscriber.viewer.tenant)
        if group is not None and subscriber in group:
            group.discard(subscriber)
            self._count -= 1
            if not group:
                del self._by_tenant[subscriber.viewer.tenant]

    def dispatch(self, message: StoredMessage) -> None:
        """Called by the feed for every event, in stream order."""
        tokens = message.subject[len(self.prefix) + 1 :]
        tenant = tokens.partition(".")[0]
        if self.watchers:
            self._tell_watchers(tokens)
        group = self._by_tenant.get(tenant)
        if group:
            event = PushEvent(message, self.prefix)
            offered = False
            for subscriber in group:
                focus = subscriber.focus
                if focus is not None and not focus.matches(event):
                    continue
                if self.visible(subscriber.viewer, event):
                    subscriber.offer(event)
                    offered = True
            self.delivered += offered
        self.position = max(self.position, message.seq)

    def _tell_watchers(self, tokens: str) -> None:
        parts = tokens.split(".")
        if len(parts) != 3:
            return
        for watcher in self.watchers:
            try:
                watcher(*parts)
            except Exception:  # one watcher must not stop the fan-out
                logger.exception("push watcher %r failed", watcher)

    def visible(self, viewer: Viewer, event: PushEvent) -> bool:
        """The hook's answer; a hook that fails hides the event (fails closed) for that
        subscriber only, instead of taking the fan-out down for everyone."""
        if event.tenant != viewer.tenant:
            return False
        try:
            return bool(self.visibility(viewer, event))
        except Exception:
            logger.exception("push visibility hook failed on event %d", event.seq)
            return False

    def close_all(self, why: str) -> None:
        self.stop_ticker()
        for group in self._by_tenant.values():
            for subscriber in group:
                subscriber.closed = why
        self.wake_all()
