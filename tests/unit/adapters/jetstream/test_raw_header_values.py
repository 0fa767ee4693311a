"""A work consumer's `skip` reads a delivery's raw header block (`replies.header`): for every block
the event writer makes, it finds what the headers dict has, and a line it cannot find exactly
is missing, never another value (decision 0062)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.jetstream import headers as h
from adapters.jetstream.replies import header, header_key, parse_headers
from domain.event_context import EventContext

pytestmark = pytest.mark.unit

NAMES = (h.TENANT, h.ACTOR, h.DEVICE, h.CORRELATION_ID, h.CAUSATION_ID, h.COMMAND_ID, h.TOPIC)
# Header values as the writer accepts them: any text without line breaks, including text that
# looks like another header's line and characters outside ASCII.
values = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")),
    st.sampled_from([f"x {h.TOPIC}: y", f"{h.CAUSATION_ID}:run-event:1", " padded \t", "é"]),
)


def _block(context: EventContext, topic: str, version: int) -> bytes:
    """A headers-only delivery's block as the writer stores it and the server sends it."""
    return (
        b"NATS/1.0\r\n"
        + h.context_lines(context)
        + h.topic_line(topic)
        + h.VERSION_LINE % version
        + b"Nats-Msg-Size: 812\r\n\r\n"
    )


@given(
    actor=values,
    device=st.none() | values,
    correlation=st.none() | values,
    causation=st.none() | values,
    command=st.none() | values,
    topic=values.filter(lambda text: text.strip() != ""),
)
def test_a_header_read_raw_is_the_dicts_value(
    actor: str,
    device: str | None,
    correlation: str | None,
    causation: str | None,
    command: str | None,
    topic: str,
) -> None:
    context = EventContext("t1", actor, device, correlation, causation, command)
    block = _block(context, topic, 3)
    as_dict = parse_headers(block)
    for name in NAMES:
        assert header(block, header_key(name)) == as_dict.get(name)


def test_a_line_not_written_as_the_writer_writes_it_is_missing_not_misread() -> None:
    block = (
        b"NATS/1.0\r\nCairn-Topic : domain.runs.run:Run.StepStarted\r\n"
        b"X-Cairn-Causation-Id: run-event:4\r\n\r\n"
    )
    assert parse_headers(block)[h.TOPIC] == "domain.runs.run:Run.StepStarted"
    assert header(block, header_key(h.TOPIC)) is None
    assert header(block, header_key(h.CAUSATION_ID)) is None
    assert header(None, header_key(h.TOPIC)) is None


def test_the_last_line_of_a_name_wins_as_in_the_dict() -> None:
    block = b"NATS/1.0\r\nCairn-Topic: a.First\r\nCairn-Topic:  a.Second \r\n\r\n"
    assert header(block, header_key(h.TOPIC)) == parse_headers(block)[h.TOPIC] == "a.Second"
