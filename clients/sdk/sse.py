"""A Server-Sent Events parser (the WHATWG event-stream rules), fed line by line. Pure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseMessage:
    event: str
    data: str
    id: str | None


class SseParser:
    """Feed it the stream's lines (without their line break); it yields each message at the
    blank line that ends it. `last_event_id` is what a reconnect sends as `Last-Event-ID`;
    `retry_ms` the reconnect delay the server asked for."""

    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Iterator[SseMessage]:
        if line == "":
            yield from self._dispatch()
            return
        if line.startswith(":"):
            return  # a comment (Cairn's heartbeats)
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)

    def _dispatch(self) -> Iterator[SseMessage]:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if data:
            yield SseMessage(event or "message", "\n".join(data), self.last_event_id)
