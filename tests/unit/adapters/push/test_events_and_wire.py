"""Event views, SSE/WebSocket encoding, consumer metadata and settings (no I/O)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.jetstream import headers as h
from adapters.push.events import (
    PushEvent,
    StoredMessage,
    decode_state,
    format_time,
    parse_nats_time,
    plain_state_text,
)
from adapters.push.feed import ack_metadata
from adapters.push.session import Frame
from api.streaming.wire import sse, ws_close_code, ws_texts

pytestmark = pytest.mark.unit


def test_store_timestamps_round_trip_to_microseconds() -> None:
    ns = parse_nats_time("2026-01-02T03:04:05.123456789Z")
    assert ns % 1_000_000_000 == 123_456_789
    assert format_time(ns) == "2026-01-02T03:04:05.123456Z"
    assert parse_nats_time("2026-01-02T03:04:05Z") % 1_000_000_000 == 0
    assert format_time(parse_nats_time("2026-01-02T03:04:05.5Z")) == "2026-01-02T03:04:05.500000Z"


@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)),
            st.integers(min_value=0, max_value=999_999_999),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_store_timestamps_are_read_alike_whether_their_second_was_seen_before(
    moments: list[tuple[datetime, int]],
) -> None:
    # The whole seconds are remembered (one page shares a few): a second seen before, in any
    # order, gives what it gave the first time.
    for moment, nanos in [*moments, *reversed(moments)]:
        second = moment.replace(microsecond=0)
        text = f"{second.isoformat()}.{nanos:09d}Z"
        expected = int(second.replace(tzinfo=UTC).timestamp()) * 1_000_000_000 + nanos
        assert parse_nats_time(text) == expected


def test_state_loses_the_transcoders_type_markers() -> None:
    aggregate = uuid.uuid4()
    stored = json.dumps(
        {
            "originator_id": {"_type_": "uuid_hex", "_data_": aggregate.hex},
            "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+00:00"},
            "nested": [{"_type_": "decimal_str", "_data_": "1.50"}],
        }
    ).encode()
    state, raw = decode_state(stored)
    assert raw is None
    assert state == {
        "originator_id": str(aggregate),
        "timestamp": "2026-01-02T03:04:05+00:00",
        "nested": ["1.50"],
    }
    assert decode_state(b"\x78\x9c\x01binary") == (None, "eJwBYmluYXJ5")


STATES = [
    # As the library's transcoder writes them: compact, non-ASCII as is, markers.
    '{"at":{"_type_":"datetime_iso","_data_":"2026-01-02T03:04:05+00:00"},"who":'
    '{"_type_":"uuid_hex","_data_":"' + uuid.UUID(int=7).hex + '"},"text":"café \\"q\\" {}",'
    '"n":[{"_type_":"decimal_str","_data_":"1.50"},{"_type_":"uuid_hex","_data_":"no"}]}',
    # Text that looks like a marker inside a string is text.
    '{"text":"{\\"_type_\\":\\"uuid_hex\\",\\"_data_\\":\\"x\\"}"}',
    # Spaces (json.dumps' defaults), an escaped quote and backslash in a marker's data.
    '{"a": {"_type_": "str_x", "_data_": "b\\\\\\"c"}, "b": [1, 2.5, null, true]}',
    # Markers that only the full decode collapses: data not a string, keys the other way.
    '{"a":{"_type_":"pair","_data_":[1,{"_type_":"uuid_hex","_data_":"' + "ab" * 16 + '"}]}}',
    # Hex the transcoder would not write (upper case, dashes, too short), a marker's string
    # with an escape and with text outside ASCII.
    '{"a":{"_type_":"uuid_hex","_data_":"' + "AB" * 16 + '"},"b":{"_type_":"uuid_hex",'
    '"_data_":"' + str(uuid.UUID(int=9)) + '"},"c":{"_type_":"uuid_hex","_data_":"abc"}}',
    '{"a":{"_type_":"str_x","_data_":"line\\nbreak \\u00e9"},"b":{"_type_":"t","_data_":"é中"}}',
    '{"a":{"_data_":"x","_type_":"t"}}',
    # Three keys: not a marker.
    '{"a":{"_type_":"t","_data_":"x","c":1}}',
    "[]",
    '"just text"',
]


@pytest.mark.parametrize("stored", STATES)
def test_spliced_state_reads_as_the_decoded_state(stored: str) -> None:
    data = stored.encode()
    decoded, raw = decode_state(data)
    assert raw is None
    spliced = plain_state_text(data)
    if spliced is not None:
        assert json.loads(spliced) == decoded
    message = StoredMessage(9, "cairn.eu.acme.Run.x", {h.ID_TYPE: "str"}, data, 1_000_000_000)
    event = PushEvent(message, "cairn.eu")
    assert json.loads(event.json()) == event.as_dict()
    assert "\n" not in event.json()


def test_state_that_only_the_full_decode_can_render_is_not_spliced() -> None:
    assert plain_state_text(STATES[0].encode()) is not None
    assert plain_state_text(STATES[3].encode()) is None  # a marker whose data is a list
    assert plain_state_text(b'{"a":\n1}') is None  # a line break would end the SSE field
    assert plain_state_text(b"\x78\x9c\x01binary") is None  # not JSON: base64
    assert plain_state_text(b'{"a":1') is None
    binary = StoredMessage(9, "cairn.eu.acme.Run.x", {h.ID_TYPE: "str"}, b"\xff{", 0)
    assert json.loads(PushEvent(binary, "cairn.eu").json())["state_b64"] == "/3s="


def _event(subject: str, **headers: str) -> PushEvent:
    base = {h.TOPIC: "domain.x:Run.Started", h.VERSION: "3", h.ACTOR: "u1"}
    message = StoredMessage(9, subject, {**base, **headers}, b'{"a": 1}', 1_000_000_000)
    return PushEvent(message, "cairn.eu")


def test_an_event_view_parses_its_subject_and_renders_once() -> None:
    event = _event("cairn.eu.acme.Run.order%2E7", **{h.ID_TYPE: "str", h.CORRELATION_ID: "c1"})
    body = event.as_dict()
    assert (body["tenant"], body["aggregate_type"], body["aggregate_id"]) == (
        "acme",
        "Run",
        "order.7",
    )
    assert body["event"] == "Run.Started" and body["version"] == 3 and body["position"] == 9
    assert body["correlation_id"] == "c1" and body["actor"] == "u1" and body["state"] == {"a": 1}
    assert event.sse() is event.sse()
    assert event.sse().decode() == f"id: 9\nevent: Run.Started\ndata: {event.json()}\n\n"
    with pytest.raises(ValueError, match="not an event subject"):
        _event("cairn.eu._commands.x")


def test_stored_text_cannot_forge_sse_fields() -> None:
    event = _event("cairn.eu.acme.Run.x", **{h.TOPIC: "m:Run.A\ndata: forged", h.ID_TYPE: "str"})
    frame = event.sse().decode()
    assert frame.count("\n") == 4 and "\ndata: forged" not in frame


def test_control_frames_on_both_wires() -> None:
    ready = Frame("ready", 12)
    assert sse(ready) == b'id: 12\nevent: ready\ndata: {"type":"ready","position":12}\n\n'
    assert sse(Frame("heartbeat", 12)) == b": heartbeat 12\n\n"
    resync = Frame("resync_required", 3, status=409, error={"code": "resync_required"})
    assert sse(resync).startswith(b"event: resync_required\ndata: {")
    assert json.loads(ws_texts(resync)[0])["error"]["code"] == "resync_required"
    assert ws_close_code(resync) == 4409
    assert ws_close_code(Frame("closed", 0, status=401)) == 4401
    assert ws_close_code(Frame("closed", 0)) == 4503
    assert ws_close_code(ready) is None


def test_consumer_metadata_in_both_ack_subject_forms() -> None:
    assert ack_metadata(b"$JS.ACK.S.c.1.20.7.1700000000000000000.0") == (
        b"c",
        20,
        7,
        1_700_000_000_000_000_000,
    )
    assert ack_metadata(b"$JS.ACK.dom.acc.S.c.1.21.8.1700000000000000001.4.tok") == (
        b"c",
        21,
        8,
        1_700_000_000_000_000_001,
    )
    with pytest.raises(ValueError):
        ack_metadata(b"_INBOX.abc")
