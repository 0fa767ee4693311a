"""Replies of requests and appends routed by token (no server: replies handed in as nats-py
would call the inbox subscription's callback)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import pytest
from nats.aio.msg import Msg

from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable
from adapters.jetstream.inbox import Inbox, Reply

pytestmark = pytest.mark.unit


def reply_to(inbox: Inbox, token: str, headers: dict[str, str] | None = None) -> None:
    msg = Msg(None, subject=inbox.prefix + token, data=b"x", headers=headers)  # type: ignore[arg-type]
    asyncio.run(inbox.on_reply(msg))


def waiting(inbox: Inbox, *, multi: bool = False, write: bool = False, count: bool = False) -> Any:
    token = str(next(inbox.tokens))
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    inbox.waiting[token] = Reply(future, multi=multi, write=write, count=count)
    return token, future


def test_a_reply_goes_to_the_request_of_its_token_and_is_counted_if_asked() -> None:
    inbox = Inbox()
    (first, first_answer), (second, second_answer) = waiting(inbox, count=True), waiting(inbox)
    reply_to(inbox, second)
    reply_to(inbox, first)
    assert first_answer.result(0).subject.endswith(first)
    assert second_answer.result(0).subject.endswith(second)
    assert not inbox.waiting
    assert inbox.messages_fetched == 1
    reply_to(inbox, first)  # late or unknown: dropped
    reply_to(inbox, "nobody")


def test_a_multi_reply_collects_messages_until_a_status() -> None:
    inbox = Inbox()
    token, answer = waiting(inbox, multi=True, count=True)
    reply_to(inbox, token)
    reply_to(inbox, token)
    assert not answer.done()
    reply_to(inbox, token, {"Status": "204"})
    msgs, end = answer.result(0)
    assert len(msgs) == 2
    assert end.headers == {"Status": "204"}
    assert inbox.messages_fetched == 2


def test_a_lost_connection_fails_reads_as_unavailable_and_writes_as_unknown() -> None:
    inbox = Inbox()
    (_, read), (_, write) = waiting(inbox), waiting(inbox, write=True)
    waiting_before = inbox.waiting
    inbox.fail_all()
    assert inbox.waiting is waiting_before and not waiting_before  # shared, emptied in place
    with pytest.raises(EventStoreUnavailable) as read_error:
        read.result(0)
    assert not isinstance(read_error.value, EventStoreOutcomeUnknown)
    with pytest.raises(EventStoreOutcomeUnknown):
        write.result(0)


def test_a_reply_taken_raw_is_the_message_nats_py_would_have_made() -> None:
    inbox = Inbox()
    nc: Any = object()
    token, answer = waiting(inbox, count=True)
    subject = (inbox.prefix + token).encode()
    inbox.on_raw(nc, subject, b"NATS/1.0\r\nNats-Sequence: 7\r\n\r\n", b"payload")
    msg = answer.result(0)
    assert (msg.subject, msg.data, msg.headers) == (
        inbox.prefix + token,
        b"payload",
        {"Nats-Sequence": "7"},
    )
    assert inbox.messages_fetched == 1
    token, answer = waiting(inbox, count=True)
    inbox.on_raw(nc, (inbox.prefix + token).encode(), b"NATS/1.0 404 Not Found\r\n\r\n", b"")
    assert answer.result(0).headers == {"Status": "404", "Description": "Not Found"}
    assert inbox.messages_fetched == 1  # a status is no message read
