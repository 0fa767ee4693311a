"""An in-memory stand-in for the store reader: a list of messages and NATS subject matching."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from typing import Any

from adapters.jetstream import headers as h
from adapters.push.events import StoredMessage
from adapters.push.store import StoreReader

PREFIX = "cairn.test"
TOPIC = "domain.identity.credential:SecurityEvent.SecurityEventRecorded"


def matches(subject_filter: str, subject: str) -> bool:
    wanted, tokens = subject_filter.split("."), subject.split(".")
    if len(wanted) != len(tokens):
        return False
    return all(w in ("*", t) for w, t in zip(wanted, tokens, strict=True))


def message(
    seq: int,
    tenant: str,
    aggregate: str = "agg",
    *,
    time_ns: int | None = None,
    headers: dict[str, str] | None = None,
) -> StoredMessage:
    all_headers = {h.TOPIC: TOPIC, h.VERSION: "1", h.TENANT: tenant, h.ID_TYPE: "str"}
    all_headers.update(headers or {})
    return StoredMessage(
        seq=seq,
        subject=f"{PREFIX}.{tenant}.SecurityEvent.{aggregate}",
        headers=all_headers,
        data=json.dumps({"n": seq}).encode(),
        time_ns=time_ns if time_ns is not None else seq * 1_000_000_000,
    )


class FakeReader(StoreReader):
    def __init__(self, page_size: int = 2) -> None:  # no connection: nothing is sent
        self.prefix = PREFIX
        self.stream = "test"
        self.messages: list[StoredMessage] = []
        self.page_size = page_size
        self.between_pages: Callable[[int], None] = lambda _page: None
        self.scans = 0

    def append(self, *messages: StoredMessage) -> None:
        self.messages.extend(messages)

    async def last_sequence(self) -> int:
        return self.messages[-1].seq if self.messages else 0

    async def scan(
        self, subject_filter: str, start: int, *, batch: int = 256
    ) -> AsyncGenerator[list[StoredMessage], None]:
        self.scans += 1
        seq, page_number = start, 0
        while True:
            # Re-read the list for every page: messages appended meanwhile are seen.
            found = [
                m for m in self.messages if m.seq >= seq and matches(subject_filter, m.subject)
            ]
            page = found[: min(batch, self.page_size)]
            if page:
                yield page
                page_number += 1
                self.between_pages(page_number)
            if len(found) <= len(page):
                return
            seq = page[-1].seq + 1

    async def last_of(self, subject_filter: str) -> StoredMessage | None:
        found = [m for m in self.messages if matches(subject_filter, m.subject)]
        return found[-1] if found else None

    async def first_at(self, subject_filter: str, since: datetime) -> int | None:
        moment = int(since.timestamp() * 1_000_000) * 1000
        for m in self.messages:
            if m.time_ns >= moment and matches(subject_filter, m.subject):
                return m.seq
        return None

    async def direct(self, body: dict[str, Any]) -> tuple[list[StoredMessage], int]:
        raise AssertionError("not used by these tests")
