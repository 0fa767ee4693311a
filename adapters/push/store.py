"""Asynchronous reads of the events stream on the push connection: direct get and message get.

Catch-up, the audit API and the export read with JetStream direct get (batched, no consumer
state on the server); one wildcard inbox subscription collects every reply, routed by token,
so concurrent reads of many subscribers pipeline on the one connection.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from adapters.jetstream import headers as h
from adapters.push.events import StoredMessage, parse_nats_time
from domain.errors import Unavailable

READ_BATCH = 256


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message exactly as the stream holds it: its header block and payload bytes."""

    seq: int
    subject: str
    time: str
    header_block: bytes  # b"NATS/1.0\r\nName: value\r\n...\r\n\r\n", or b"" without headers
    data: bytes


class _Collector:
    __slots__ = ("done", "end", "msgs", "single")

    def __init__(self, *, single: bool) -> None:
        self.single = single  # a get without "batch" has one reply and no end-of-batch status
        self.msgs: list[Msg] = []
        self.end: Msg | None = None
        self.done = asyncio.Event()


def _status(msg: Msg) -> str | None:
    return msg.headers.get(h.STATUS) if msg.headers else None


def stored(msg: Msg) -> StoredMessage:
    headers = dict(msg.headers or {})
    return StoredMessage(
        seq=int(headers[h.NATS_SEQUENCE]),
        subject=headers[h.NATS_SUBJECT],
        headers=headers,
        data=msg.data,
        time_ns=parse_nats_time(headers.get("Nats-Time-Stamp", "1970-01-01T00:00:00Z")),
    )


class StoreReader:
    def __init__(
        self, nc: NatsConnection, stream: str, prefix: str, *, timeout: float = 5.0
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.prefix = prefix
        self.timeout = timeout
        self._inbox = nc.new_inbox()
        self._tokens = itertools.count()
        self._waiting: dict[str, _Collector] = {}
        self._sub: Subscription | None = None

    def tenant_filter(self, tenant: str) -> str:
        return f"{self.prefix}.{h.tenant_token(tenant)}.*.*"

    def aggregate_filter(self, tenant: str, aggregate_type: str, aggregate_id: str) -> str:
        """The one subject of an aggregate's events (UUID ids are their own token)."""
        tenant, aggregate_id = h.tenant_token(tenant), h.encode_token(aggregate_id)
        return f"{self.prefix}.{tenant}.{aggregate_type}.{aggregate_id}"

    @property
    def events_filter(self) -> str:
        return f"{self.prefix}.*.*.*"

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self._inbox + ".*", cb=self._on_reply)

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and not self.nc.is_closed:
            await sub.unsubscribe()

    def _check(self) -> None:
        if self._sub is None or not self.nc.is_connected:
            raise Unavailable("the event store is unreachable; retry shortly")

    async def _on_reply(self, msg: Msg) -> None:
        collector = self._waiting.get(msg.subject.rpartition(".")[2])
        if collector is None:
            return
        if _status(msg) is None:
            collector.msgs.append(msg)
            if not collector.single:
                return
        else:
            collector.end = msg
        collector.done.set()

    async def _api(self, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self._check()
        payload = json.dumps(body).encode() if body is not None else b""
        try:
            reply = await self.nc.request(f"$JS.API.{subject}", payload, timeout=self.timeout)
        except Exception as exc:
            raise Unavailable(f"the event store did not answer ({exc!r}); retry") from exc
        response: dict[str, Any] = json.loads(reply.data or b"{}")
        return response

    async def last_sequence(self) -> int:
        """The stream's last sequence (events and markers); 0 when it is empty or missing."""
        info = await self._api(f"STREAM.INFO.{self.stream}")
        if "error" in info:
            return 0
        return int(info.get("state", {}).get("last_seq", 0))

    async def direct(self, body: dict[str, Any]) -> tuple[list[StoredMessage], int]:
        """A batched direct get: the messages and how many more match after them."""
        self._check()
        token = str(next(self._tokens))
        collector = _Collector(single="batch" not in body)
        self._waiting[token] = collector
        try:
            await self.nc.publish(
                f"$JS.API.DIRECT.GET.{self.stream}",
                json.dumps(body).encode(),
                reply=f"{self._inbox}.{token}",
            )
            await asyncio.wait_for(collector.done.wait(), self.timeout)
        except TimeoutError as exc:
            raise Unavailable("the event store did not answer a read in time; retry") from exc
        finally:
            del self._waiting[token]
        end = collector.end
        status = _status(end) if end is not None else None
        if status not in (None, "204", "404"):
            description = end.headers.get("Description", "") if end and end.headers else ""
            raise Unavailable(f"the event store refused a read ({status} {description})")
        pending = end.headers.get(h.NATS_NUM_PENDING) if end is not None and end.headers else None
        return [stored(m) for m in collector.msgs], int(pending or 0)

    async def scan(
        self, subject_filter: str, start: int, *, batch: int = READ_BATCH
    ) -> AsyncGenerator[list[StoredMessage], None]:
        """Pages of the messages matching the filter from sequence ``start`` on, in order."""
        seq = max(1, start)
        while True:
            page, pending = await self.direct(
                {"seq": seq, "batch": batch, "next_by_subj": subject_filter}
            )
            if page:
                yield page
            if not page or pending == 0:
                return
            seq = page[-1].seq + 1

    async def first_at(self, subject_filter: str, since: datetime) -> int | None:
        """The sequence of the first matching message stored at or after ``since``."""
        # isoformat, not strftime: `%Y` does not pad years before 1000 to four digits here.
        moment = since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        page, _ = await self.direct(
            {"start_time": moment, "batch": 1, "next_by_subj": subject_filter}
        )
        return page[0].seq if page else None

    async def last_of(self, subject_filter: str) -> StoredMessage | None:
        page, _ = await self.direct({"last_by_subj": subject_filter})
        return page[0] if page else None

    async def raw(self, seq: int) -> RawMessage:
        """The stored bytes of one message (the JSON message-get API returns them untouched)."""
        reply = await self._api(f"STREAM.MSG.GET.{self.stream}", {"seq": seq})
        if "error" in reply:
            raise Unavailable(f"cannot read message {seq}: {reply['error'].get('description')}")
        message = reply["message"]
        return RawMessage(
            seq=int(message["seq"]),
            subject=str(message["subject"]),
            time=str(message["time"]),
            header_block=base64.b64decode(message.get("hdrs") or ""),
            data=base64.b64decode(message.get("data") or ""),
        )
