"""Requests on the connection whose replies come to its inbox: the JetStream JSON API and
direct gets of single messages (bulk reads are ``bulk``'s)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from adapters.jetstream.errors import (
    EventStoreOutcomeUnknown,
    EventStoreUnavailable,
    JetStreamApiError,
    direct_get_error,
    publish_error,
)
from adapters.jetstream.inbox import Inbox, Reply, status_of
from adapters.jetstream.nats_internals import send

# What nats-py refuses in a subject it publishes to (such a request takes nats-py's path, to
# fail as it fails there).
_NOT_IN_SUBJECT = re.compile(r"[ \t\r\n]")


def _status_error(msg: Msg, stream: str) -> Exception:
    description = msg.headers.get("Description", "") if msg.headers else ""
    return direct_get_error(stream, status_of(msg), description)


class Requests:
    """Sends from any thread; the replies are awaited there (``inbox`` is the loop's)."""

    def __init__(
        self,
        nc: NatsConnection,
        loop: asyncio.AbstractEventLoop,
        inbox: Inbox,
        *,
        url: str,
        timeout: float,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.closed = False
        self._nc = nc
        self._loop = loop
        self._inbox = inbox

    def close(self) -> None:
        self.closed = True

    def request(
        self,
        subject: str,
        payload: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        write: bool = False,
        timeout: float | None = None,
    ) -> Msg:
        """Send a request and wait for its (first) reply."""
        result: Msg = self.send(subject, payload, headers, write=write, multi=False, count=False)(
            timeout
        )
        return result

    def api(
        self, subject: str, body: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Call the JetStream JSON API (``$JS.API.<subject>``); waits at most ``timeout``
        seconds (default: the connection's request timeout)."""
        payload = json.dumps(body).encode() if body is not None else b""
        msg: Msg = self.send(
            f"$JS.API.{subject}", payload, None, write=False, multi=False, count=False
        )(timeout)
        if status_of(msg) == "503":
            raise EventStoreUnavailable(f"JetStream is not available at {self.url} (no responders)")
        response: dict[str, Any] = json.loads(msg.data)
        error = response.get("error")
        if error:
            raise JetStreamApiError(
                str(error.get("description")),
                int(error.get("code", 0)),
                int(error.get("err_code", 0)),
            )
        return response

    def api_nowait(self, subject: str) -> None:
        """Send a JetStream API request without a body and without waiting for its answer
        (cleaning up, where a failure changes nothing)."""
        self.send(f"$JS.API.{subject}", b"", None, write=False, multi=False, count=False)

    def direct_get(self, stream: str, body: Mapping[str, Any]) -> Msg | None:
        """One message by direct get (``last_by_subj``, ``seq`` + ``next_by_subj``), or None."""
        payload = json.dumps(body).encode()
        msg: Msg = self.send(
            f"$JS.API.DIRECT.GET.{stream}", payload, None, write=False, multi=False, count=True
        )(None)
        status = status_of(msg)
        if status is None:
            return msg
        if status == "404":
            return None
        raise _status_error(msg, stream)

    def direct_get_batch(self, stream: str, body: Mapping[str, Any]) -> tuple[list[Msg], int]:
        """Up to ``body["batch"]`` messages; returns them and how many more match after them.
        (Through nats-py's dispatch: bulk reads use ``request_page``, which is much faster.)"""
        payload = json.dumps(body).encode()
        msgs, end = self.send(
            f"$JS.API.DIRECT.GET.{stream}", payload, None, write=False, multi=True, count=True
        )(None)
        status = status_of(end)
        if status == "404":
            return msgs, 0
        if status != "204":
            raise _status_error(end, stream)
        pending = end.headers.get(h.NATS_NUM_PENDING) if end.headers else None
        return msgs, int(pending) if pending else 0

    def send(
        self,
        subject: str,
        payload: bytes,
        headers: Mapping[str, str] | None,
        *,
        write: bool,
        multi: bool,
        count: bool,
    ) -> Callable[[float | None], Any]:
        """Send a request; returns a function that waits for the reply."""
        if self.closed:
            raise EventStoreUnavailable("the event store connection is closed")
        if not self._nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        token = str(next(self._inbox.tokens))
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        reply = Reply(future, multi=multi, write=write, count=count)
        hdrs = dict(headers) if headers is not None else None
        self._loop.call_soon_threadsafe(self._send, token, subject, payload, hdrs, reply)

        def wait(timeout: float | None) -> Any:
            limit = self.timeout if timeout is None else timeout
            try:
                return future.result(limit)
            except TimeoutError:
                self._loop.call_soon_threadsafe(self._inbox.waiting.pop, token, None)
                cls = EventStoreOutcomeUnknown if write else EventStoreUnavailable
                raise cls(f"no answer from NATS within {limit:.1f}s for {subject}") from None

        return wait

    def _send(
        self, token: str, subject: str, payload: bytes, hdrs: dict[str, str] | None, reply: Reply
    ) -> None:
        waiting = self._inbox.waiting
        waiting[token] = reply
        nc = self._nc
        inbox = self._inbox.prefix + token
        if (
            hdrs is None
            and nc.is_connected
            and not nc.is_draining
            and len(payload) <= nc.max_payload
            and subject
            and not _NOT_IN_SUBJECT.search(subject)
        ):
            # What nats-py's publish would queue, without its task and flusher (decision 0066).
            command = b"PUB %s %s %d\r\n%s\r\n" % (
                subject.encode(),
                inbox.encode(),
                len(payload),
                payload,
            )
            send(nc, command)
            return
        task = self._loop.create_task(nc.publish(subject, payload, reply=inbox, headers=hdrs))

        def sent(task: asyncio.Task[None]) -> None:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                waiting.pop(token, None)
                if not reply.future.done():
                    reply.future.set_exception(publish_error(error))

        task.add_done_callback(sent)
