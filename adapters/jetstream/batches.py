"""One append on the wire: a single message, one JetStream atomic batch, or several single
messages each with its own ack (``store_each``), written as one buffer of protocol bytes
(``framing``), and the commit signal after the answer (decision 0005). Group commit
(``appends``) decides what goes into each append."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from functools import partial
from typing import Any

from eventsourcing.persistence import DataError
from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg

from adapters.jetstream import framing
from adapters.jetstream import headers as h
from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable, publish_error
from adapters.jetstream.framing import Frame
from adapters.jetstream.inbox import Inbox, Reply
from adapters.jetstream.nats_internals import write

MAX_BATCH = 1000  # JetStream's limit of messages in one atomic batch
ERR_BATCH_INCOMPLETE = 10176  # also what a batch gets when the server has too many in flight
ERR_TOO_MANY_INFLIGHT = 10210
_RETRY_BATCH = (b'"err_code":%d' % ERR_BATCH_INCOMPLETE, b'"err_code":%d' % ERR_TOO_MANY_INFLIGHT)
BATCH_ATTEMPTS = 6


class BatchPublisher:
    """Sends appends on the connection's loop; their acks come to ``inbox``."""

    def __init__(self, nc: NatsConnection, inbox: Inbox, *, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.closed = False
        self._nc = nc
        self._prefix = inbox.prefix
        self._tokens = inbox.tokens
        self._waiting = inbox.waiting
        self._signals: dict[str, bytes] = {}  # stream -> subject announcing its stored batches

    def close(self) -> None:
        self.closed = True

    def signal_stored(self, stream: str, subject: str) -> None:
        """After each batch appended to ``stream`` is acknowledged, announce it on ``subject``
        (its last sequence as the payload): subscriptions wake up on it (decision 0005)."""
        self._signals[stream] = subject.encode()

    async def store(self, stream: str, frames: Sequence[Frame]) -> dict[str, Any]:
        """Send one message or atomic batch; JetStream's answer, announced if it stored it."""
        ack = _ack_of(await self._send_frames(frames))
        await self._announce(stream, ack)
        return ack

    async def store_each(
        self, stream: str, frames: Sequence[Frame]
    ) -> list[dict[str, Any] | Exception]:
        """Send each message as a publish of its own (all of them in one write): JetStream
        checks, stores and answers each alone. Each one's answer, or why it has none; one
        commit signal after the last answer, if any of them was stored."""
        replies = await self._round_trips([partial(framing.single, frame) for frame in frames])
        answers: list[dict[str, Any] | Exception] = []
        for reply in replies:
            try:
                answers.append(reply if isinstance(reply, Exception) else _ack_of(reply))
            except Exception as e:
                answers.append(e)
        stored = [a for a in answers if isinstance(a, dict) and not a.get("error") and "seq" in a]
        if stored:
            await self._announce(stream, max(stored, key=lambda ack: int(ack["seq"])))
        return answers

    async def _announce(self, stream: str, ack: dict[str, Any]) -> None:
        subject = self._signals.get(stream)
        if subject is None or ack.get("error") or "seq" not in ack:
            return
        payload = str(ack["seq"]).encode()
        # Best effort: a lost signal only delays subscribers until their next poll.
        with suppress(Exception):
            await write(self._nc, b"PUB %s %d\r\n%s\r\n" % (subject, len(payload), payload))

    async def _send_frames(self, frames: Sequence[Frame]) -> Msg:
        """One message, or one atomic batch (sent again while the server reports it incomplete:
        nothing of an incomplete batch is stored); returns JetStream's reply."""
        if len(frames) == 1:
            return await self._round_trip(lambda reply: framing.single(frames[0], reply))
        for attempt in range(BATCH_ATTEMPTS):
            batch_id = uuid.uuid4().hex
            msg = await self._round_trip(
                lambda reply: framing.atomic_batch(frames, batch_id, reply)  # noqa: B023
            )
            if attempt + 1 < BATCH_ATTEMPTS and any(code in msg.data for code in _RETRY_BATCH):
                await asyncio.sleep(0.005 * 2**attempt)
                continue
            return msg
        raise AssertionError("unreachable")  # pragma: no cover

    async def _round_trip(self, build: Callable[[bytes], bytes]) -> Msg:
        nc = self._nc
        if self.closed or not nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        token = str(next(self._tokens))
        data = build((self._prefix + token).encode())
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._waiting[token] = Reply(future, multi=False, write=True, count=False)
        try:
            await write(nc, data)
            result: Msg = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
            return result
        except TimeoutError:
            raise _no_answer(self.timeout) from None
        except (EventStoreUnavailable, DataError):
            raise
        except Exception as e:
            raise publish_error(e) from e
        finally:
            self._waiting.pop(token, None)

    async def _round_trips(
        self, builds: Sequence[Callable[[bytes], bytes]]
    ) -> list[Msg | Exception]:
        """Publish each message built (given its reply subject) in one write; each one's reply,
        or the error that left it without one. The loop is woken once, by the last reply."""
        nc = self._nc
        if self.closed or not nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        loop = asyncio.get_running_loop()
        all_answered: asyncio.Future[None] = loop.create_future()
        answered = itertools.count(1)
        count = len(builds)

        def one_answered(_: concurrent.futures.Future[Any]) -> None:
            if next(answered) == count:
                loop.call_soon_threadsafe(_set_done, all_answered)

        tokens = [str(next(self._tokens)) for _ in builds]
        futures: list[concurrent.futures.Future[Any]] = []
        data = []
        for token, build in zip(tokens, builds, strict=True):
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            future.add_done_callback(one_answered)
            self._waiting[token] = Reply(future, multi=False, write=True, count=False)
            futures.append(future)
            data.append(build((self._prefix + token).encode()))
        try:
            try:
                await write(nc, b"".join(data))
            except (EventStoreUnavailable, DataError):
                raise
            except Exception as e:
                raise publish_error(e) from e
            await asyncio.wait((all_answered,), timeout=self.timeout)
            return [_reply_of(future, self.timeout) for future in futures]
        finally:
            for token in tokens:
                self._waiting.pop(token, None)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _reply_of(future: concurrent.futures.Future[Any], timeout: float) -> Msg | Exception:
    if not future.done() or future.cancelled():
        return _no_answer(timeout)
    error = future.exception()
    return publish_error(error) if error is not None else future.result()


def _no_answer(timeout: float) -> Exception:
    return EventStoreOutcomeUnknown(
        f"no answer from NATS within {timeout:.1f}s for an append; "
        "it may have been stored: retry with the same command id"
    )


def _ack_of(reply: Msg) -> dict[str, Any]:
    if reply.headers and reply.headers.get(h.STATUS) == "503":
        raise EventStoreUnavailable(
            "no JetStream stream stores these subjects (no responders); nothing was written"
        )
    ack: dict[str, Any] = json.loads(reply.data)
    if ack.get("duplicate"):
        # A single message whose Nats-Msg-Id was seen: nothing was stored now. (Appends send
        # message ids only in atomic batches, which JetStream refuses instead: 10201.)
        return {"error": {"code": 400, "err_code": 10201, "description": "duplicate message id"}}
    return ack
