"""The SSE parser: Cairn's frames, and the event-stream rules a reconnect depends on."""

from __future__ import annotations

import pytest

from clients.sdk.sse import SseMessage, SseParser

pytestmark = pytest.mark.unit


def feed_all(parser: SseParser, text: str) -> list[SseMessage]:
    return [message for line in text.split("\n") for message in parser.feed(line)]


def test_cairn_frames_give_events_with_their_ids_and_skip_comments() -> None:
    parser = SseParser()
    text = (
        "retry: 2000\n: connected\n\n"
        'id: 7\nevent: Run.IntentSubmitted\ndata: {"type":"event","position":7}\n\n'
        ": heartbeat 7\n\n"
        'id: 9\nevent: ready\ndata: {"type":"ready","position":9}\n\n'
    )
    messages = feed_all(parser, text)
    assert messages == [
        SseMessage("Run.IntentSubmitted", '{"type":"event","position":7}', "7"),
        SseMessage("ready", '{"type":"ready","position":9}', "9"),
    ]
    assert parser.retry_ms == 2000
    assert parser.last_event_id == "9"


def test_a_message_is_given_only_at_its_blank_line() -> None:
    parser = SseParser()
    assert feed_all(parser, "id: 3\nevent: x\ndata: a") == []
    assert feed_all(parser, "") == [SseMessage("x", "a", "3")]


def test_data_lines_join_with_newlines_and_one_leading_space_is_dropped() -> None:
    parser = SseParser()
    assert feed_all(parser, "data:  two spaces\ndata:none\n\n") == [
        SseMessage("message", " two spaces\nnone", None)
    ]


def test_an_id_without_data_still_moves_the_resume_position() -> None:
    parser = SseParser(last_event_id="4")
    assert feed_all(parser, "id: 12\n\n") == []
    assert parser.last_event_id == "12"


def test_an_id_with_a_nul_is_ignored_and_event_names_reset_between_messages() -> None:
    parser = SseParser(last_event_id="1")
    messages = feed_all(parser, "id: 2\0\nevent: ready\ndata: a\n\ndata: b\n\n")
    assert messages == [SseMessage("ready", "a", "1"), SseMessage("message", "b", "1")]
