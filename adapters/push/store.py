"""Asynchronous reads of the events stream on the push connection: direct get and message get.

Catch-up, the audit API and the export read with JetStream direct get (batched, no consumer
state on the server) through the event store's bulk reads (``adapters.jetstream.bulk``): one
wildcard inbox subscription, every reply routed by token before nats-py's dispatch and decoded
from its header bytes, so concurrent reads of many subscribers pipeline on the one connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats.errors
from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from adapters.jetstream import headers as h
from adapters.jetstream import nats_internals, replies
from adapters.jetstream.bulk import BulkReads
from adapters.jetstream.errors import EventStoreUnavailable, JetStreamApiError
from adapters.jetstream.replies import RawMsg
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


def _status(msg: Msg) -> str | None:
    return msg.headers.get(h.STATUS) if msg.headers else None


def stored(msg: Msg) -> StoredMessage:
    return _stored(dict(msg.headers or {}), msg.data)


def _stored(headers: dict[str, str], data: bytes) -> StoredMessage:
    return StoredMessage(
        seq=int(headers[h.NATS_SEQUENCE]),
        subject=headers[h.NATS_SUBJECT],
        headers=headers,
        data=data,
        time_ns=parse_nats_time(headers.get("Nats-Time-Stamp", "1970-01-01T00:00:00Z")),
    )


def _stored_page(messages: list[RawMsg]) -> list[StoredMessage]:
    """A page of a batched direct get (decoded on the loop, as the bulk reads do)."""
    return [_stored(replies.parse_headers(block), data) for block, data in messages]


async def _ignore(_msg: Msg) -> None:
    """Bulk replies never reach the inbox subscription (taken before nats-py's dispatch)."""


class StoreReader:
    def __init__(
        self, nc: NatsConnection, stream: str, prefix: str, *, timeout: float = 5.0
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.prefix = prefix
        self.timeout = timeout
        self._inbox = nc.new_inbox()
        self._reads: BulkReads | None = None
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
        self._sub = await self.nc.subscribe(self._inbox + ".*", cb=_ignore)
        reads = BulkReads(self._inbox + ".b", asyncio.get_running_loop(), lambda _count: None)
        reads.route(self.nc, nats_internals.sid_of(self._sub))
        self._reads = reads

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and not self.nc.is_closed:
            await sub.unsubscribe()

    def _check(self) -> None:
        if self._sub is None or not self.nc.is_connected:
            raise Unavailable("the event store is unreachable; retry shortly")

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
        assert self._reads is not None
        if "batch" not in body:
            return await self._direct_one(body)
        request = self._reads.request(self.nc, self.stream, body, self.timeout, _stored_page)
        try:
            page = await request.wait()
        except (EventStoreUnavailable, JetStreamApiError) as exc:  # no answer in time, or refused
            raise Unavailable(f"the event store could not be read ({exc}); retry") from exc
        return page.items, page.pending

    async def _direct_one(self, body: dict[str, Any]) -> tuple[list[StoredMessage], int]:
        """A get of one message: its only reply is the message or a status."""
        try:
            msg = await self.nc.request(
                f"$JS.API.DIRECT.GET.{self.stream}", json.dumps(body).encode(), self.timeout
            )
        except nats.errors.TimeoutError as exc:
            raise Unavailable("the event store did not answer a read in time; retry") from exc
        except nats.errors.Error as exc:
            raise Unavailable(f"the event store refused a read ({exc!r})") from exc
        status = _status(msg)
        if status is None:
            return [stored(msg)], 0
        if status != "404":
            description = msg.headers.get("Description", "") if msg.headers else ""
            raise Unavailable(f"the event store refused a read ({status} {description})")
        return [], 0

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
