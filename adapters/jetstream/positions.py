"""A bounded in-memory index of known stream positions of aggregate versions.

It saves round trips, never decides correctness: positions only ever lag behind the stream
(nothing is deleted), and JetStream's expected-sequence check rejects any write based on a
stale position, after which the writer refreshes it from the stream.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple


class Position(NamedTuple):
    version: int
    seq: int


class _Entry:
    __slots__ = ("anchor", "last", "subject")

    def __init__(self) -> None:
        self.last: Position | None = None
        self.anchor: Position | None = None
        self.subject: str | None = None


class PositionIndex:
    """Per key: the last known (version, seq), one anchor (e.g. of the latest snapshot), and
    where the aggregate's events are (``<tenant>.<type>`` of its subject: it never changes)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def _entry(self, key: str) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return entry

    def last(self, key: str) -> Position | None:
        with self._lock:
            entry = self._entries.get(key)
            return entry.last if entry is not None else None

    def observe_last(self, key: str, version: int, seq: int) -> None:
        """Record that ``version`` at ``seq`` was the last one of ``key`` at some moment."""
        with self._lock:
            entry = self._entry(key)
            if entry.last is None or seq > entry.last.seq:
                entry.last = Position(version, seq)

    def subject(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            return entry.subject if entry is not None else None

    def observe_subject(self, key: str, subject: str) -> None:
        with self._lock:
            self._entry(key).subject = subject

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def add_anchor(self, key: str, version: int, seq: int) -> None:
        with self._lock:
            self._entry(key).anchor = Position(version, seq)

    def seq_of(self, key: str, version: int) -> int | None:
        """The stream sequence of the given version, if known."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            for position in (entry.last, entry.anchor):
                if position is not None and position.version == version:
                    return position.seq
            return None

    def start_after(self, key: str, version: int) -> int:
        """A sequence from which all events of ``key`` newer than ``version`` can be read."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return 1
            best = 1
            for position in (entry.last, entry.anchor):
                if position is not None and position.version <= version:
                    best = max(best, position.seq + 1)
            return best
