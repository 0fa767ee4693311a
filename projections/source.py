"""The event store as projectors see it: the one notification log all applications share.

It is read through the library's `ApplicationRecorder` interface (select, subscribe, max id)
of whatever persistence module is configured, and decoded with the library's mapper, as the
library's `ApplicationSubscription` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription


class EventLog(Application[UUID]):
    """Reads only: never saves. The default transcodings are those of Cairn's applications."""

    name = "EventLog"


class EventSource:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._app = EventLog(env=dict(env))
        self.recorder: ApplicationRecorder = self._app.recorder

    def decode(self, notification: Notification) -> Any:
        return self._app.mapper.to_domain_event(notification)

    def subscribe(self, after: int | None) -> Subscription[ApplicationRecorder]:
        """Every event after the position, in order: catch-up, then live (all topics, so the
        tracking position can move past events a projector does not handle)."""
        return self.recorder.subscribe(gt=after or None)

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def at(self, position: int) -> Notification | None:
        found = self.recorder.select_notifications(position, 1)
        return found[0] if found and found[0].id == position else None

    def next_after(self, position: int) -> Notification | None:
        found = self.recorder.select_notifications(position, 1, inclusive_of_start=False)
        return found[0] if found else None

    def time_of(self, notification: Notification) -> datetime | None:
        """When the event happened (None if it cannot be decoded here)."""
        try:
            stamp = getattr(self.decode(notification), "timestamp", None)
        except Exception:  # an event of an unknown class: no time
            return None
        return stamp if isinstance(stamp, datetime) else None

    def close(self) -> None:
        self._app.close()
