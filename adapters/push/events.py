"""What a subscriber or an auditor sees of one stored event, built from the stream's message.

The same JSON is the SSE ``data:``, the WebSocket text frame and an item of the audit API, so
a client parses one shape everywhere. The event's state is the library's stored JSON with its
type markers (``{"_type_": "uuid_hex", "_data_": ...}``) collapsed to plain values: clients
should not need the eventsourcing transcoder to read it. State that is not JSON (compressed or
encrypted by the library's mapper) is passed on as base64.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _quoted
from typing import Any
from uuid import UUID

from adapters.jetstream import headers as h

_NANOS = 1_000_000_000
# One encoder for the full decode's frames: `json.dumps` with options builds a new one per call.
_compact = json.JSONEncoder(separators=(",", ":"), default=str).encode
# A canonical UUID (what `str(UUID)` gives): a subject's id token that needs no round trip.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message of the events stream, as read by the consumer or by direct get."""

    seq: int
    subject: str
    headers: Mapping[str, str]
    data: bytes
    time_ns: int  # when the stream stored it, nanoseconds since the epoch (UTC)


def parse_nats_time(text: str) -> int:
    """``2026-01-02T03:04:05.123456789Z`` (Go's RFC 3339 with nanoseconds) -> ns since epoch."""
    main, _, rest = text.rstrip("Z").partition(".")
    fraction = (rest + "000000000")[:9] if rest else "0"
    return _epoch_second(main) * _NANOS + int(fraction)


@lru_cache(maxsize=256)  # a page's messages were mostly stored within the same second
def _epoch_second(text: str) -> int:
    # `strptime` was half of the time a page of direct-get replies took to read (decision 0074).
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def format_time(time_ns: int) -> str:
    """Microsecond ISO 8601 in UTC: the same text whether the event came live or from a read."""
    return f"{_whole_second(time_ns // _NANOS)}.{time_ns % _NANOS // 1000:06d}Z"


@lru_cache(maxsize=256)  # events come in bursts within the same second
def _whole_second(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}"


def _plain(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
        data = obj["_data_"]
        if obj["_type_"] == "uuid_hex" and isinstance(data, str):
            try:
                return str(UUID(hex=data))
            except ValueError:
                return data
        return data
    return obj


def decode_state(data: bytes) -> tuple[Any, str | None]:
    """(plain JSON value, None), or (None, base64) when the stored state is not JSON."""
    try:
        return json.loads(data, object_hook=_plain), None
    except (UnicodeDecodeError, ValueError):
        return None, base64.b64encode(data).decode()


# A transcoder's marker whose data is a JSON string, e.g. {"_type_":"uuid_hex","_data_":"…"}.
# It can only match outside of strings: inside one, every `"` follows a backslash. The data's
# string is written `"[^"\\]*(?:\\.[^"\\]*)*"` (runs of plain characters between escapes), not
# `"(?:[^"\\]|\\.)*"`: the same strings, matched without an alternation per character (half
# of the pattern's time).
_MARKED = re.compile(
    r'\{\s*"_type_"\s*:\s*"([^"\\]*)"\s*,\s*"_data_"\s*:\s*("[^"\\]*(?:\\.[^"\\]*)*")\s*\}'
)


_UUID_HEX = re.compile(r'"[0-9a-f]{32}"')


def _collapse(marked: re.Match[str]) -> str:
    kind, data = marked.group(1), marked.group(2)
    if kind != "uuid_hex":
        return data  # already the JSON text of the string the marker holds
    if _UUID_HEX.fullmatch(data):  # as the transcoder writes it: str(UUID) without parsing
        return f'"{data[1:9]}-{data[9:13]}-{data[13:17]}-{data[17:21]}-{data[21:33]}"'
    return json.dumps(_plain({"_type_": kind, "_data_": json.loads(data)}))


# What `json.loads` runs, without its wrapping (set in `JSONDecoder.__init__`, untyped).
_scan_once: Callable[[str, int], tuple[Any, int]]
_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _is_one_json_value(text: str) -> bool:
    """True if `text` is one JSON value from its first to its last character; then
    `json.loads(text)` accepts it too (no byte order mark or whitespace to skip: the value
    starts at 0). False says nothing: `json.loads` decides. Only checks: no object hook."""
    try:
        return _scan_once(text, 0)[1] == len(text)
    except (StopIteration, ValueError, RecursionError):
        return False


def plain_state_text(data: bytes) -> str | None:
    """The stored state as JSON text with its type markers collapsed, as `decode_state` reads
    it, without building Python objects and encoding them again (half of a frame's cost).
    None where only `decode_state` can say: text that is not JSON (sent as base64), a line
    break (it would end the SSE field), a marker left (one whose data is not a string)."""
    try:
        text = data.decode()
        if not _is_one_json_value(text):
            json.loads(text)  # whitespace around the value, or not JSON: it says which
    except ValueError:
        return None
    if "\n" in text or "\r" in text:
        return None
    if "_type_" in text:
        text = _MARKED.sub(_collapse, text)
        if '"_type_"' in text:
            return None
    return text


class PushEvent:
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
        token, id_type = tokens[2], headers.get(h.ID_TYPE)
        if id_type is None and _CANONICAL_UUID.fullmatch(token):
            self.aggregate_id = token  # str(UUID(token)) is the token itself
        else:
            self.aggregate_id = str(h.decode_id(token, id_type))
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

    def _head_text(self) -> str:
        """`_compact(self._head())` without its closing brace, written out: the encoder's dict
        walk was a third of a frame's cost. Same bytes: a string is what the encoder writes
        for one (`encode_basestring_ascii`), an int its `repr`, None `null`."""
        get = self.message.headers.get
        return (
            f'{{"type":"event","position":{self.seq:d},"event":{_quoted(self.event_type)},'
            f'"topic":{_quoted(self.topic)},"tenant":{_quoted(self.tenant)},'
            f'"aggregate_type":{_quoted(self.aggregate_type)},'
            f'"aggregate_id":{_quoted(self.aggregate_id)},"version":{self.version:d},'
            f'"recorded_at":{_quoted(format_time(self.message.time_ns))},'
            f'"actor":{_nullable(get(h.ACTOR))},"device":{_nullable(get(h.DEVICE))},'
            f'"correlation_id":{_nullable(get(h.CORRELATION_ID))},'
            f'"causation_id":{_nullable(get(h.CAUSATION_ID))},'
            f'"command_id":{_nullable(get(h.COMMAND_ID))}'
        )

    def json(self) -> str:
        """`as_dict` as compact JSON; the state's stored text is spliced in when it can be."""
        if self._json is None:
            state = plain_state_text(self.message.data)
            if state is None:
                self._json = _compact(self.as_dict())
            else:
                self._json = f'{self._head_text()},"state":{state}}}'
        return self._json

    def sse(self) -> bytes:
        """The whole SSE frame; shared by every subscriber that gets this event."""
        if self._sse is None:
            self._sse = (
                f"id: {self.seq}\nevent: {_sse_safe(self.event_type)}\ndata: {self.json()}\n\n"
            ).encode()
        return self._sse


def _nullable(value: str | None) -> str:
    return "null" if value is None else _quoted(value)


def _sse_safe(text: str) -> str:
    # A line break would end the field early and let stored text forge SSE fields.
    return text.replace("\r", " ").replace("\n", " ")
