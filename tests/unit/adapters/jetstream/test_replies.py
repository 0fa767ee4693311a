"""Raw header blocks of bulk reads, decoded without nats-py's Msg (no I/O)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from eventsourcing.persistence import Notification
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client as NatsConnection

from adapters.jetstream import headers as h
from adapters.jetstream import notifications, replies
from adapters.jetstream.notifications import Notifications

pytestmark = pytest.mark.unit

TOPIC = "domain.runs:Run.StepRecorded"


def block(*lines: str, status: str = "") -> bytes:
    head = "NATS/1.0" + (f" {status}" if status else "")
    return ("\r\n".join((head, *lines)) + "\r\n\r\n").encode()


def event_block(seq: int, subject: str, version: int = 1, *extra: str) -> bytes:
    return block(
        f"{h.TENANT}: acme",
        f"{h.TOPIC}: {TOPIC}",
        f"{h.VERSION}: {version}",
        *extra,
        "Nats-Stream: s",
        f"{h.NATS_SUBJECT}: {subject}",
        f"{h.NATS_SEQUENCE}: {seq}",
        f"{h.NATS_NUM_PENDING}: 7",
    )


def nats_py_headers(raw: bytes) -> dict[str, str] | None:
    """What nats-py makes of a header block."""
    return asyncio.run(NatsConnection()._process_headers(raw))


def test_values_may_hold_colons_and_are_stripped() -> None:
    raw = block(f"{h.TOPIC}:   a.b:C.D  ", f"{h.ACTOR}: x: y")
    assert replies.topic_of(raw) == "a.b:C.D"
    assert replies.text(raw, replies.header_key(h.ACTOR)) == "x: y"
    assert replies.parse_headers(raw) == nats_py_headers(raw)


def test_a_name_matches_only_a_whole_name_at_the_start_of_a_line() -> None:
    raw = block(f"X-{h.TOPIC}: no", f"{h.TOPIC}-Extra: no", f"{h.ACTOR}: {h.TOPIC}: no")
    assert replies.topic_of(raw) is None
    raw = block(f"X-{h.TOPIC}: no", f"{h.TOPIC}: yes", f"{h.TOPIC}-Extra: no")
    assert replies.topic_of(raw) == "yes"


def test_the_last_line_of_a_name_wins_as_in_nats_py() -> None:
    raw = block(f"{h.VERSION}: 1", f"{h.VERSION}: 2")
    assert replies.version_of(raw) == 2
    assert replies.parse_headers(raw) == nats_py_headers(raw) == {h.VERSION: "2"}


def test_missing_numbers_raise_key_error_like_a_dict() -> None:
    with pytest.raises(KeyError, match=h.NATS_SEQUENCE):
        replies.seq_of(block(f"{h.TOPIC}: t"))
    assert replies.pending_of(block()) is None


header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)
header_values = st.text(
    alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=30
)


@given(st.lists(st.tuples(header_names, header_values), max_size=12))
def test_header_dicts_are_the_ones_nats_py_makes(pairs: list[tuple[str, str]]) -> None:
    raw = block(*(f"{name}: {value}" for name, value in pairs))
    expected = nats_py_headers(raw) or {}
    assert replies.parse_headers(raw) == expected
    for name in dict(pairs):
        assert replies.text(raw, replies.header_key(name)) == expected[name]


@pytest.mark.parametrize(
    ("raw", "code", "description"),
    [
        (block("Nats-Num-Pending: 5", "Nats-Last-Sequence: 9", status="204 EOB"), "204", "EOB"),
        (block(status="404 Message Not Found"), "404", "Message Not Found"),
        (block(status="408 Request Timeout"), "408", "Request Timeout"),
        (block("Nats-Subject: $JS.API.DIRECT.GET.x", status="503"), "503", ""),
        (block(status="404 No Messages"), "404", "No Messages"),
    ],
)
def test_status_lines_read_as_nats_py_reads_them(raw: bytes, code: str, description: str) -> None:
    assert replies.is_status(raw)
    assert replies.status(raw) == (code, description)
    expected = nats_py_headers(raw) or {}
    assert expected.get(h.STATUS) == code
    if code != "503":  # nats-py takes the header lines after a bare status for a description
        assert expected.get("Description", "") == description


@given(st.lists(st.tuples(header_names, header_values), max_size=12))
def test_replies_taken_raw_get_the_headers_nats_py_gives_them(
    pairs: list[tuple[str, str]],
) -> None:
    raw = block(*(f"{name}: {value}" for name, value in pairs))
    assert replies.nats_headers(raw) == nats_py_headers(raw)


@pytest.mark.parametrize(
    "raw",
    [
        block(status="404 Message Not Found"),
        block(status="503"),
        block("Nats-Pending-Messages: 3", "Nats-Pending-Bytes: 0", status="408 Request Timeout"),
        block("Nats-Num-Pending: 5", "Nats-Last-Sequence: 9", status="204 EOB"),
        block(),
        b"",
    ],
)
def test_status_replies_taken_raw_get_the_headers_nats_py_gives_them(raw: bytes) -> None:
    assert replies.nats_headers(raw) == (nats_py_headers(raw) if raw else None)


def test_end_of_batch_says_how_many_more_match() -> None:
    end = block("Nats-Num-Pending: 5", "Nats-Last-Sequence: 9", status="204 EOB")
    assert replies.pending_of(end) == 5
    assert not replies.is_status(block("Nats-Num-Pending: 5"))
    assert not replies.is_status(None)


def test_consumer_reply_subjects_in_both_forms() -> None:
    short = b"$JS.ACK.s.c1.1.42.7.1795546471239546426.5"
    long = b"$JS.ACK.dom.hash.s.c1.1.42.7.1795546471239546426.5.rnd"
    for reply in (short, long):
        fields = replies.ack_fields(reply)
        assert (fields[2], fields[3], fields[5], fields[8]) == (b"s", b"c1", b"42", b"5")
    for bad in (b"$JS.ACK.x", b"nonsense"):
        with pytest.raises(ValueError):
            replies.ack_fields(bad)


def test_raw_pages_keep_messages_with_their_sequences() -> None:
    message = (event_block(9, "s.acme.Run.x"), b"{}")
    assert replies.raw([message]) == [(9, message)]


def test_notifications_are_made_as_the_constructor_makes_them() -> None:
    assert notifications.make_notification is notifications._filled
    originator_id = uuid.uuid4()
    made = notifications.make_notification(originator_id, 3, TOPIC, b"{}", 12)
    built = Notification(
        id=12, originator_id=originator_id, originator_version=3, topic=TOPIC, state=b"{}"
    )
    assert made == built and vars(made) == vars(built) and hash(repr(made)) == hash(repr(built))
    with pytest.raises(AttributeError):
        made.id = 1


def test_direct_get_pages_decode_events_and_skip_internal_records() -> None:
    originator_id = uuid.uuid4()
    page = [
        (event_block(1, "s._commands.cmd-1", 1, f"{h.EVENT_COUNT}: 1"), b""),
        (event_block(2, f"s.acme.Run.{originator_id}", 4), b'{"a":1}'),
        (event_block(3, "s.acme.Run.user%2E1", 2, f"{h.ID_TYPE}: str"), b"{}"),
        (event_block(4, "s._tracking.app"), b""),
    ]
    items = Notifications(event_dots=3)(page)
    assert [seq for seq, _ in items] == [1, 2, 3, 4]
    assert items[0][1] is None and items[3][1] is None
    assert items[1][1] == Notification(
        id=2, originator_id=originator_id, originator_version=4, topic=TOPIC, state=b'{"a":1}'
    )
    assert items[2][1] == Notification(
        id=3, originator_id="user.1", originator_version=2, topic=TOPIC, state=b"{}"
    )


def test_an_undecodable_event_becomes_an_error_item_not_a_failed_page() -> None:
    broken = block(f"{h.NATS_SUBJECT}: s.acme.Run.x", f"{h.NATS_SEQUENCE}: 5")
    bad_version = event_block(6, f"s.acme.Run.{uuid.uuid4()}", 1).replace(b": 1\r\n", b": x\r\n")
    items = Notifications(event_dots=3)([(broken, b""), (bad_version, b"")])
    assert [seq for seq, _ in items] == [5, 6]
    assert isinstance(items[0][1], KeyError)
    assert isinstance(items[1][1], ValueError)


def test_consumer_deliveries_carry_subject_and_sequence_outside_the_headers() -> None:
    originator_id = uuid.uuid4()
    headers = block(f"{h.TOPIC}: {TOPIC}", f"{h.VERSION}: 2")
    delivery = (f"s.acme.Run.{originator_id}".encode(), 77, headers, b"{}")
    ((seq, item),) = Notifications(event_dots=3).deliveries([delivery])
    assert seq == 77
    assert item == Notification(
        id=77, originator_id=originator_id, originator_version=2, topic=TOPIC, state=b"{}"
    )


ascii_control_and_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=127, exclude_characters="\r\n"),
    max_size=20,
)


@given(st.lists(st.tuples(ascii_control_and_text, ascii_control_and_text), max_size=8))
def test_ascii_blocks_with_any_whitespace_read_as_nats_py_reads_them(
    pairs: list[tuple[str, str]],
) -> None:
    # Names and values with tabs, vertical tabs, form feeds and \x1c-\x1f (whitespace to
    # str.isspace, not to bytes.strip) around and inside them: the ASCII path must agree.
    raw = block(*(f"{name}:{value}" for name, value in pairs))
    assert replies.parse_headers(raw) == (nats_py_headers(raw) or {})


@given(
    st.lists(
        st.tuples(
            ascii_control_and_text,
            st.binary(max_size=12).filter(lambda b: b"\r" not in b and b"\n" not in b),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_blocks_with_bytes_outside_ascii_read_as_nats_py_reads_them(
    pairs: list[tuple[str, bytes]],
) -> None:
    raw = (
        b"NATS/1.0\r\n"
        + b"".join(name.encode() + b":" + value + b"\xff\r\n" for name, value in pairs)
        + b"\r\n"
    )
    assert replies.parse_headers(raw) == (nats_py_headers(raw) or {})
