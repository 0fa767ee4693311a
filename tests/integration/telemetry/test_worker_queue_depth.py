"""The worker queue depth gauge on a real nats-server: the shared consumer's messages waiting
for a worker or in a worker's hands, as every registered reading reports it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import nats
import pytest
from nats.js.api import StreamConfig

from adapters.jetstream.work import ConsumerSpec, DurableWork, WorkItem
from adapters.telemetry import metrics as gauges
from tests.support.telemetry import traced

pytestmark = pytest.mark.integration


async def _stream_with(nats_url: str, stream: str, count: int) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"]))
        for n in range(count):
            await js.publish(f"{stream}.work.{n}", b"x")
    finally:
        await nc.close()


@pytest.fixture
def stream(nats_url: str, unique_name: str) -> Iterator[str]:
    yield unique_name

    async def drop() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(unique_name)
        finally:
            await nc.close()

    asyncio.run(drop())


def test_the_queue_depth_counts_waiting_and_unfinished_messages(nats_url: str, stream: str) -> None:
    asyncio.run(_stream_with(nats_url, stream, 5))
    release, holding = threading.Event(), threading.Semaphore(0)

    def hold(item: WorkItem) -> float | None:
        holding.release()
        release.wait(30)
        return None

    spec = ConsumerSpec(stream, f"{stream}_workers", f"{stream}.work.*", ack_wait=30)
    work = DurableWork(nats_url, spec, hold, concurrency=2, pull_wait=0.5)
    assert work.queue_depth() is None  # not consuming yet
    loop, stopping, ready = asyncio.new_event_loop(), asyncio.Event(), threading.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(work.run(stopping, ready.set),), daemon=True
    )
    with traced() as captured:
        watch = gauges.watch(gauges.WORKER_QUEUE_DEPTH, work.queue_depth)
        thread.start()
        try:
            assert ready.wait(30)
            for _ in range(2):  # two in hand (the concurrency), three waiting
                assert holding.acquire(timeout=30)
            reported = captured.gauge("cairn.worker.queue_depth")
            release.set()
        finally:
            release.set()
            watch.close()
            loop.call_soon_threadsafe(stopping.set)
            thread.join(30)
    assert reported == [(5.0, {"messaging.consumer.group.name": f"{stream}_workers"})]
