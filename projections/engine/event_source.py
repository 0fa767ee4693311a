"""The event store as projectors see it: the one notification log all applications share.

It is read through the library's `ApplicationRecorder` interface (select, subscribe, max id)
of whatever persistence module is configured, and decoded with the library's mapper, as the
library's `ApplicationSubscription` does.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, SafeUUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    DatetimeAsISO,
    JSONTranscoder,
    Notification,
    Subscription,
    Transcoder,
    Transcoding,
    UUIDAsHex,
)

_new, _set, _UNKNOWN = object.__new__, object.__setattr__, SafeUUID.unknown


def _uuid_from_hex(text: str) -> UUID:
    """UUID(text) for the 32 hex digits the library writes, in a third of the time."""
    if len(text) != 32 or not text.isalnum():
        return UUID(text)
    made = _new(UUID)
    _set(made, "int", int(text, 16))
    _set(made, "is_safe", _UNKNOWN)
    return made


# The library's own transcodings, decoded without its per-object method dispatch.
_FAST: dict[str, tuple[type[Transcoding], Callable[[Any], Any]]] = {
    "uuid_hex": (UUIDAsHex, _uuid_from_hex),
    "datetime_iso": (DatetimeAsISO, datetime.fromisoformat),
}


def _faster_decoding(transcoder: JSONTranscoder) -> None:
    """The object hook runs for every JSON object of every event a projector reads: the
    library's names go straight to their decoder, others through the transcoder as before."""
    own = transcoder._decode_obj  # the library's hook, for every other name
    fast = {
        name: decode
        for name, (library, decode) in _FAST.items()
        if type(transcoder.names.get(name)) is library  # not replaced by an application
    }

    def hook(obj: dict[str, Any]) -> Any:
        if len(obj) == 2:
            decode = fast.get(obj.get("_type_", ""))
            if decode is not None and "_data_" in obj:
                return decode(obj["_data_"])
            return own(obj)
        return obj

    transcoder.decoder = json.JSONDecoder(object_hook=hook)


class EventLog(Application[UUID]):
    """Reads only: never saves. The default transcodings are those of Cairn's applications."""

    name = "EventLog"

    def construct_transcoder(self) -> Transcoder:
        transcoder = super().construct_transcoder()
        if type(transcoder) is JSONTranscoder:
            _faster_decoding(transcoder)
        return transcoder


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

    def follow(
        self, after: int, into: Callable[[Sequence[Notification]], None]
    ) -> Subscription[ApplicationRecorder]:
        """As `subscribe`, each page of notifications handed to `into` as it is read, where
        the recorder can (then the subscription yields nothing, and ends as it does);
        otherwise the subscription yields them."""
        if "into" in inspect.signature(self.recorder.subscribe).parameters:
            subscribe: Callable[..., Subscription[ApplicationRecorder]] = self.recorder.subscribe
            return subscribe(gt=after or None, into=into)
        return self.subscribe(after)

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
