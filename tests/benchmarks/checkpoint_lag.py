"""Checkpoint lag read back from the stream after a workload: for each event stored in a
window of sequences, the time from its store time to the store time of the first checkpoint
covering it (a checkpoint of size N covers sequences 1..N; decision 0028)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats

from adapters.audit.checkpointer import checkpoint_subject
from adapters.push.store import StoreReader
from commands.settings import CairnSettings
from domain.audit.note import Checkpoint, parse_note


@asynccontextmanager
async def _reader(settings: CairnSettings) -> AsyncIterator[StoreReader]:
    nc = await nats.connect(settings.nats_url)
    reader = StoreReader(nc, settings.stream, settings.subject_prefix, timeout=30)
    await reader.start()
    try:
        yield reader
    finally:
        await reader.close()
        await nc.close()


async def _read(settings: CairnSettings, first: int, last: int) -> list[float]:
    async with _reader(settings) as reader:
        subject = checkpoint_subject(settings.subject_prefix)
        covered: list[tuple[int, int]] = []  # (checkpoint's store time ns, its size)
        async for page in reader.scan(subject, first):
            for m in page:
                size = Checkpoint.parse(parse_note(m.data.decode()).text).size
                covered.append((m.time_ns, size))
        stored: list[tuple[int, int]] = []  # (event's sequence, its store time ns)
        async for page in reader.scan(reader.events_filter, first):
            stored.extend((m.seq, m.time_ns) for m in page if m.seq <= last)
            if page[-1].seq >= last:
                break
    lags = []
    for seq, at in stored:
        when = next((t for t, size in covered if size >= seq), None)
        if when is not None:
            lags.append((when - at) / 1e9)
    return sorted(lags)


def checkpoint_lags(settings: CairnSettings, first: int, last: int) -> list[float]:
    """Seconds from store to checkpoint of every event stored in sequences first..last that a
    checkpoint covers by now (sorted)."""
    return asyncio.run(_read(settings, first, last))


def last_sequence(settings: CairnSettings) -> int:
    async def read() -> int:
        async with _reader(settings) as reader:
            return await reader.last_sequence()

    return asyncio.run(read())
