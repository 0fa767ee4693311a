"""HPUB frames built in one buffer: the same bytes nats-py would send, batch headers in order."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import DataError
from hypothesis import given
from hypothesis import strategies as st
from nats.protocol import command as nats_command

from adapters.jetstream import framing
from adapters.jetstream import headers as h
from domain.event_context import EventContext

pytestmark = pytest.mark.unit


def parse(data: bytes) -> list[tuple[str, str, dict[str, str], bytes]]:
    """A small HPUB reader: (subject, reply, headers, payload) per frame, all bytes consumed."""
    frames = []
    rest = data
    while rest:
        line, rest = rest.split(b"\r\n", 1)
        op, *args = line.decode().split(" ")
        assert op == "HPUB"
        subject, reply = args[0], args[1] if len(args) == 4 else ""
        header_size, total = int(args[-2]), int(args[-1])
        header, payload = rest[:header_size], rest[header_size:total]
        assert rest[total : total + 2] == b"\r\n"
        rest = rest[total + 2 :]
        assert header.startswith(b"NATS/1.0\r\n") and header.endswith(b"\r\n\r\n")
        lines = header[len(b"NATS/1.0\r\n") : -4].decode().split("\r\n")
        pairs = [line.split(": ", 1) for line in lines if line]
        names = [name for name, _ in pairs]
        assert len(names) == len(set(names)), names
        frames.append((subject, reply, dict(pairs), payload))
    return frames


def nats_py_headers(headers: dict[str, str]) -> bytes:
    """The header block nats-py's publish() builds for a header dict."""
    return (
        b"NATS/1.0\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"
    )


def test_a_single_message_is_the_frame_nats_py_would_send() -> None:
    headers = {h.TENANT: "acme", h.TOPIC: "m:A.B", h.VERSION: "3"}
    lines = b"".join(h.header_line(k, v) for k, v in headers.items())
    frame = (b"cairn.acme.A.id-1", lines, b'{"x":1}\r\n{"y":2}')
    expected = nats_command.hpub_cmd(
        "cairn.acme.A.id-1", "_INBOX.a.1", nats_py_headers(headers), frame[2]
    )
    assert framing.single(frame, b"_INBOX.a.1") == expected


def test_an_atomic_batch_numbers_its_messages_and_commits_the_last() -> None:
    frames = [
        (f"cairn.acme.A.{n}".encode(), h.header_line(h.VERSION, str(n)), b"p%d" % n)
        for n in range(1, 4)
    ]
    data = framing.atomic_batch(frames, "b1", b"_INBOX.x.7")
    parsed = parse(data)
    assert [subject for subject, *_ in parsed] == [
        "cairn.acme.A.1",
        "cairn.acme.A.2",
        "cairn.acme.A.3",
    ]
    assert [reply for _, reply, *_ in parsed] == ["", "", "_INBOX.x.7"]
    assert [p for *_, p in parsed] == [b"p1", b"p2", b"p3"]
    for number, (_, _, headers, _) in enumerate(parsed, start=1):
        assert headers[h.BATCH_ID] == "b1"
        assert headers[h.BATCH_SEQ] == str(number)
        assert headers[h.VERSION] == str(number)
        assert (h.BATCH_COMMIT in headers) == (number == 3)
    # Each frame is what nats-py would send for the same headers.
    first = nats_command.hpub_cmd(
        "cairn.acme.A.1",
        "",
        nats_py_headers({h.VERSION: "1", h.BATCH_ID: "b1", h.BATCH_SEQ: "1"}),
        b"p1",
    ).replace(b"cairn.acme.A.1  ", b"cairn.acme.A.1 ")  # nats-py leaves an empty reply field
    assert data.startswith(first)


@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=30),
    value=st.text(
        alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=40
    ),
)
def test_any_payload_and_header_value_survive_framing(payloads: list[bytes], value: str) -> None:
    lines = h.header_line(h.ACTOR, value)
    frames = [(b"s.t.u.v", lines, payload) for payload in payloads]
    parsed = parse(framing.atomic_batch(frames, uuid.uuid4().hex, b"r.1"))
    assert [p for *_, p in parsed] == payloads
    assert all(headers[h.ACTOR] == value.strip() for _, _, headers, _ in parsed)


def test_batches_need_messages_and_a_plain_id() -> None:
    with pytest.raises(ValueError, match="at least one"):
        framing.atomic_batch([], "b1", b"r")
    frame = (b"s", b"", b"")
    for bad in ("", "a b", "x\r\n", "é", "a" * 65):
        with pytest.raises(ValueError, match="batch id"):
            framing.atomic_batch([frame], bad, b"r")


def test_header_lines_refuse_line_breaks() -> None:
    with pytest.raises(DataError):
        h.header_line(h.ACTOR, "evil\r\nNats-Msg-Id: x")
    with pytest.raises(DataError):
        h.topic_line("m:A.B\nX")
    with pytest.raises(DataError):
        h.context_lines(EventContext(actor="a\nb"))


def test_header_lines_refuse_text_that_is_not_utf8() -> None:
    with pytest.raises(DataError, match="UTF-8"):
        h.header_line(h.ACTOR, "ok\ud800")
    assert h.header_line(h.ACTOR, "Zoë") == "Actor: Zoë\r\n".replace("Actor", h.ACTOR).encode()


def test_context_lines_encode_the_context_headers() -> None:
    context = EventContext(tenant="acme", actor="u1", correlation_id="c1", command_id="cmd")
    assert h.context_lines(context) == b"".join(
        h.header_line(name, value) for name, value in h.context_headers(context).items()
    )


def test_the_overhead_bound_covers_the_batch_headers() -> None:
    frame = (b"s", b"", b"")
    batch = framing.atomic_batch([frame] * 1000, "f" * 64, b"r")
    last = parse(batch)[-1]
    header_size = len(b"NATS/1.0\r\n") + sum(len(f"{k}: {v}\r\n") for k, v in last[2].items()) + 2
    assert header_size <= framing.BATCH_OVERHEAD
