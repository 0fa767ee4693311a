"""Decision 0065 made a push event's rendering cheaper; every byte a client receives is the same.

The oracle is the rendering before it (rendering_0064.py). Compared over real run events as
the library's mapper stores them, and over generated hostile ones: type markers in every shape
(nested, spaced, with escapes, whose data is not a string), line breaks, text that is not
JSON or not UTF-8, byte order marks and whitespace around the value, header values with
quotes, control characters and text outside ASCII, and subject ids in every form `UUID()`
reads (or refuses).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.application import Application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.jetstream import headers as h
from adapters.push.events import PushEvent, StoredMessage
from adapters.push.session import Frame
from api.streaming.wire import sse, ws_texts
from domain.event_context import EventContext
from domain.runs.run import Run
from tests.unit.adapters.push.rendering_0064 import PushEvent0064

pytestmark = pytest.mark.unit

PREFIX = "cairn.eu"


def _both(message: StoredMessage) -> tuple[Any, Any]:
    """(old, new) renderings: SSE frame and JSON, or the exception each raised."""
    out: list[tuple[Any, str]] = []
    for kind in (PushEvent0064, PushEvent):
        try:
            event = kind(message, PREFIX)
            out.append((event.sse(), event.json()))
        except Exception as exc:  # the same refusal is part of the same behaviour
            out.append((type(exc), str(exc)))
    return out[0], out[1]


def _run_messages(runs: int) -> list[StoredMessage]:
    mapper = Application[uuid.UUID]().mapper  # the library's JSON transcoder, as Cairn stores
    messages: list[StoredMessage] = []
    for i in range(runs):
        run = Run(
            run_id=uuid.uuid4(),
            text=["note: buy milk", 'café "quoted" \\ 中文 \u2028', '{"_type_":1}\n'][i % 3],
            user_id=f"user-{i}",
            device_id=str(uuid.uuid4()),
            channel="api",
            tenant_id=uuid.uuid4(),
        )
        plan = {"summary": "s", "steps": [{"step_id": "s1", "action": "notes.create"}]}
        run.propose_plan(plan, "ab" * 32, {"model": "m", "prompt_tokens": 1, "cost": 0.1}, [])
        run.decide("APPROVE", {"reasons": ["ok"]}, "ab" * 32)
        run.start_step("s1")
        run.succeed_step("s1", {"note_id": str(uuid.uuid4()), "at": datetime.now(UTC)})
        run.complete()
        context = EventContext(
            tenant="acme",
            actor=f"user-{i}",
            device=None if i % 2 else str(uuid.uuid4()),
            correlation_id=str(uuid.uuid4()),
            causation_id=str(uuid.uuid4()),
            command_id=str(uuid.uuid4()),
        )
        for event in run.collect_events():
            stored = mapper.to_stored_event(event)
            headers = h.event_headers(stored, h.context_headers(context))
            subject = f"{PREFIX}.acme.Run.{h.id_token(event.originator_id)}"
            messages.append(StoredMessage(len(messages) + 1, subject, headers, stored.state, 0))
    return messages


def test_real_run_events_render_as_before() -> None:
    messages = _run_messages(30)
    assert len(messages) == 180
    for message in messages:
        old, new = _both(message)
        assert new == old
    events = tuple(PushEvent(message, PREFIX) for message in messages[:7])
    frame = Frame("event", events[-1].seq, events=events)
    assert sse(frame) == b"".join(PushEvent0064(m, PREFIX).sse() for m in messages[:7])
    assert ws_texts(frame) == [PushEvent0064(m, PREFIX).json() for m in messages[:7]]
    one = Frame("event", events[0].seq, events=events[:1])
    assert sse(one) == PushEvent0064(messages[0], PREFIX).sse()


# --- generated states -----------------------------------------------------------------------

_KEYS = st.sampled_from(["_type_", "_data_", "a", "text", "é", 'q"k', "k\\", "\n"])
_TEXT = (
    st.text(max_size=12)
    | st.text(alphabet='\\"{}\n :,', max_size=8)  # escapes where a marker's string ends
    | st.sampled_from(["ab" * 16, "AB" * 16, str(uuid.UUID(int=5))])
)
_KINDS = st.sampled_from(["uuid_hex", "datetime_iso", "decimal_str", "", 'x"y', "uuid_hex "])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
)


def _marker(data: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda kind, value: {"_type_": kind, "_data_": value}, _KINDS, data)


_VALUES = st.recursive(
    _SCALARS | _marker(_TEXT),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_KEYS, inner, max_size=4)
        | _marker(inner)  # data not a string: only the full decode collapses it
        | st.builds(lambda d: {"_data_": d, "_type_": "uuid_hex"}, inner)  # keys reversed
    ),
    max_leaves=12,
)


def _dumped(value: Any, style: int) -> str:
    if style == 0:  # as the library's transcoder writes it
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if style == 1:  # json.dumps' defaults: spaces, ASCII only
        return json.dumps(value)
    return json.dumps(value, indent=1)  # line breaks


@st.composite
def _states(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 5))
    if choice == 5:  # compressed or encrypted by the mapper: any bytes
        return draw(st.binary(max_size=40))
    text = _dumped(draw(_VALUES), choice % 3)
    if choice == 3:  # cut short, or something around it
        text = draw(
            st.sampled_from(
                [
                    text[: len(text) // 2],
                    " " + text,
                    text + "\n",
                    "\ufeff" + text,
                    text + " x",
                    text + text,
                ]
            )
        )
    if choice == 4 and len(text) > 1:  # one character changed anywhere
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(['"', "\\", "{", "}", "\n", ",", ":"])) + text[at:]
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate: not UTF-8


_HEADER = st.none() | st.text(max_size=10) | st.sampled_from(['a"b', "\\", "\x00\x7f", "é"])
_ID = uuid.UUID("0123abcd-ef45-4678-9abc-def012345678")
_IDS = st.sampled_from(
    [
        str(_ID),
        str(_ID).upper(),
        _ID.hex,
        "{" + str(_ID) + "}",
        "urn:uuid:" + str(_ID),
        str(_ID)[:-1],
        str(_ID) + "0",
        str(_ID).replace("-", "_"),
        "order%2E7",
        "",
    ]
)


@st.composite
def _messages(draw: st.DrawFn) -> StoredMessage:
    headers: dict[str, str] = {}
    for name in (h.TOPIC, h.ACTOR, h.DEVICE, h.CORRELATION_ID, h.CAUSATION_ID, h.COMMAND_ID):
        value = draw(_HEADER)
        if value is not None:
            headers[name] = value
    headers[h.VERSION] = str(draw(st.integers(0, 2**63)))
    if draw(st.booleans()):
        headers[h.ID_TYPE] = draw(st.sampled_from(["str", "uuid"]))
    tenant = draw(st.sampled_from(["acme", "t-1_x"]))
    subject = f"{PREFIX}.{tenant}.{draw(st.sampled_from(['Run', 'Policy_Set']))}.{draw(_IDS)}"
    seq = draw(st.integers(1, 2**63 - 1))
    time_ns = draw(st.integers(0, 4_102_444_800 * 10**9))
    return StoredMessage(seq, subject, headers, draw(_states()), time_ns)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages())
def test_generated_events_render_as_before(message: StoredMessage) -> None:
    old, new = _both(message)
    assert new == old


@pytest.mark.parametrize(
    "state",
    [
        # A marker whose data is a marker: the inner one collapses, the outer one stays.
        b'{"a":{"_type_":"k","_data_":{"_type_":"uuid_hex","_data_":"' + b"ab" * 16 + b'"}}}',
        b'{"a":{"_type_" : "k" ,\t"_data_":"x\\"y\\\\"}}',  # spaces, escapes
        b'{"a":"{\\"_type_\\":\\"k\\",\\"_data_\\":\\"x\\"}"}',  # a marker's text in a string
        b'{"a":{"_type_":"k","_data_":"x\\n\\"}"}}',  # an escaped quote where the marker could end
        b'{"a":{"_type_":"k","_data_":"x\\\\"},"b":"\\"}"}',  # an escaped backslash, then the end
        b'{"a":{"_type_":"k","_data_":"line\\nbreak"}}',  # an escaped line break stays
        b'{"a":{"_type_":"k","_data_":"x\ny"}}',  # a raw one: not JSON
        b'{"a":1}\r',
        b" 1",
        b"1 ",
        b"\xef\xbb\xbf{}",  # a byte order mark
        b"NaN",
        b"[1e999]",
        b"\x78\x9c\x01binary",
        b"",
        b"[" * 5000 + b"]" * 5000,  # deeper than the decoder goes
    ],
)
def test_hostile_states_render_as_before(state: bytes) -> None:
    message = StoredMessage(7, f"{PREFIX}.acme.Run.{uuid.UUID(int=1)}", {h.ACTOR: "a"}, state, 0)
    old, new = _both(message)
    assert new == old
