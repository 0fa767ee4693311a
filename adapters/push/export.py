"""Export one tenant's events as NDJSON: the store's bytes, not a view.

Each line holds what JetStream stores for one sequence, from its message-get API (the raw
header block and payload, base64) plus, for reading with ``jq``, the headers parsed. Nothing is
decoded, upcast or re-encoded, so a line can be checked byte for byte against the stream.
The export stops at the stream's last sequence when it started, so it is a consistent cut.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from adapters.push.store import RawMessage, StoreReader

FORMAT = "cairn.audit.export/1"
Progress = Callable[[int, int], None]  # (lines written, lines expected so far)


@dataclass(frozen=True)
class ExportSummary:
    tenant: str
    lines: int
    first_seq: int | None
    last_seq: int | None
    up_to: int  # the stream's last sequence when the export began


def parse_header_block(block: bytes) -> dict[str, str]:
    """``NATS/1.0\\r\\nName: value\\r\\n...`` -> {name: value} (for reading; the raw block
    stays in the line)."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return headers


def export_line(raw: RawMessage) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "seq": raw.seq,
        "subject": raw.subject,
        "time": raw.time,
        "headers": parse_header_block(raw.header_block),
        "hdrs_b64": base64.b64encode(raw.header_block).decode(),
        "data_b64": base64.b64encode(raw.data).decode(),
    }


async def export_tenant(
    reader: StoreReader,
    tenant: str,
    out: TextIO,
    progress: Progress = lambda _done, _total: None,
    *,
    concurrency: int = 64,
) -> ExportSummary:
    up_to = await reader.last_sequence()
    subjects = reader.tenant_filter(tenant)
    slots = asyncio.Semaphore(concurrency)
    lines, seq = 0, 1
    first: int | None = None
    last: int | None = None

    async def fetch(seq: int) -> RawMessage:
        async with slots:
            return await reader.raw(seq)

    # Direct get finds the tenant's sequences fast; message get then returns each one's
    # stored bytes, fetched concurrently and written in order.
    while seq <= up_to:
        page, pending = await reader.direct({"seq": seq, "batch": 256, "next_by_subj": subjects})
        seqs = [m.seq for m in page if m.seq <= up_to]
        expected = lines + len(seqs) + pending  # an estimate: pending may pass `up_to`
        for raw in await asyncio.gather(*(fetch(s) for s in seqs)):
            out.write(json.dumps(export_line(raw), separators=(",", ":")) + "\n")
            first = raw.seq if first is None else first
            last = raw.seq
            lines += 1
        progress(lines, expected)
        if len(seqs) < len(page) or not page or pending == 0:
            break
        seq = page[-1].seq + 1
    progress(lines, lines)
    return ExportSummary(tenant, lines, first, last, up_to)
