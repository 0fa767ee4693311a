"""How a push event was rendered before decision 0065: adapters/push/events.py of commit
9747df9, its rendering part copied as it was (only the imports of what did not change, and
`PushEvent` renamed). The oracle that the faster rendering must match byte for byte
(test_rendering_unchanged.py); not used by the application."""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.jetstream import headers as h
from adapters.push.events import StoredMessage, _plain, decode_state, format_time

_compact = json.JSONEncoder(separators=(",", ":"), default=str).encode

# A transcoder's marker whose data is a JSON string, e.g. {"_type_":"uuid_hex","_data_":"…"}.
# It can only match outside of strings: inside one, every `"` follows a backslash.
_MARKED = re.compile(
    r'\{\s*"_type_"\s*:\s*"([^"\\]*)"\s*,\s*"_data_"\s*:\s*("(?:[^"\\]|\\.)*")\s*\}'
)


_UUID_HEX = re.compile(r'"[0-9a-f]{32}"')


def _collapse(marked: re.Match[str]) -> str:
    kind, data = marked.group(1), marked.group(2)
    if kind != "uuid_hex":
        return data  # already the JSON text of the string the marker holds
    if _UUID_HEX.fullmatch(data):  # as the transcoder writes it: str(UUID) without parsing
        return f'"{data[1:9]}-{data[9:13]}-{data[13:17]}-{data[17:21]}-{data[21:33]}"'
    return json.dumps(_plain({"_type_": kind, "_data_": json.loads(data)}))


def plain_state_text(data: bytes) -> str | None:
    """The stored state as JSON text with its type markers collapsed, as `decode_state` reads
    it, without building Python objects and encoding them again (half of a frame's cost).
    None where only `decode_state` can say: text that is not JSON (sent as base64), a line
    break (it would end the SSE field), a marker left (one whose data is not a string)."""
    try:
        text = data.decode()
        json.loads(text)  # only checks that it is JSON: the C scanner, no object hook
    except ValueError:
        return None
    if "\n" in text or "\r" in text:
        return None
    if "_type_" in text:
        text = _MARKED.sub(_collapse, text)
        if '"_type_"' in text:
            return None
    return text


class PushEvent0064:
    """One event of the stream with its subject parsed; renders its JSON once, on demand (most
    events reach no subscriber of this process, and the rest reach many)."""

    __slots__ = (
        "_json",
        "_sse",
        "aggregate_id",
        "aggregate_type",
        "message",
        "tenant",
        "topic",
        "version",
    )

    def __init__(self, message: StoredMessage, prefix: str) -> None:
        tokens = message.subject[len(prefix) + 1 :].split(".")
        if len(tokens) != 3 or not message.subject.startswith(prefix + "."):
            raise ValueError(f"{message.subject!r} is not an event subject under {prefix!r}")
        headers = message.headers
        self.message = message
        self.tenant = tokens[0]
        self.aggregate_type = tokens[1]
        self.aggregate_id = str(h.decode_id(tokens[2], headers.get(h.ID_TYPE)))
        self.topic = headers.get(h.TOPIC, "")
        self.version = int(headers.get(h.VERSION, "0"))
        self._json: str | None = None
        self._sse: bytes | None = None

    @property
    def seq(self) -> int:
        return self.message.seq

    @property
    def event_type(self) -> str:
        """``Aggregate.Event``: the event class's qualified name, without its module."""
        return self.topic.rpartition(":")[2] or self.topic

    def header(self, name: str) -> str | None:
        return self.message.headers.get(name)

    def as_dict(self) -> dict[str, Any]:
        state, state_b64 = decode_state(self.message.data)
        body = self._head()
        body["state"] = state
        if state_b64 is not None:
            body["state_b64"] = state_b64
        return body

    def _head(self) -> dict[str, Any]:
        return {
            "type": "event",
            "position": self.seq,
            "event": self.event_type,
            "topic": self.topic,
            "tenant": self.tenant,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "recorded_at": format_time(self.message.time_ns),
            "actor": self.header(h.ACTOR),
            "device": self.header(h.DEVICE),
            "correlation_id": self.header(h.CORRELATION_ID),
            "causation_id": self.header(h.CAUSATION_ID),
            "command_id": self.header(h.COMMAND_ID),
        }

    def json(self) -> str:
        """`as_dict` as compact JSON; the state's stored text is spliced in when it can be."""
        if self._json is None:
            state = plain_state_text(self.message.data)
            if state is None:
                self._json = _compact(self.as_dict())
            else:
                self._json = f'{_compact(self._head())[:-1]},"state":{state}}}'
        return self._json

    def sse(self) -> bytes:
        """The whole SSE frame; shared by every subscriber that gets this event."""
        if self._sse is None:
            self._sse = (
                f"id: {self.seq}\nevent: {_sse_safe(self.event_type)}\ndata: {self.json()}\n\n"
            ).encode()
        return self._sse


def _sse_safe(text: str) -> str:
    # A line break would end the field early and let stored text forge SSE fields.
    return text.replace("\r", " ").replace("\n", " ")
