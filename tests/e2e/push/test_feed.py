"""The process's one consumer on a real nats-server: replaced when lost, never a gap."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest

from adapters.push import feed as feed_module
from adapters.push.events import StoredMessage
from adapters.push.feed import ConsumerFeed

pytestmark = pytest.mark.e2e


class Collector:
    def __init__(self) -> None:
        self.got: list[StoredMessage] = []
        self.arrived = asyncio.Event()

    def __call__(self, message: StoredMessage) -> None:
        self.got.append(message)
        self.arrived.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()


def test_a_consumer_deleted_on_the_server_is_replaced_from_the_last_position(
    nats_url: str, unique_name: str
) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.add_stream(name=unique_name, subjects=[f"{unique_name}.>"])
        collector = Collector()
        got = collector.got
        feed = ConsumerFeed(
            nc, unique_name, f"{unique_name}.*.*.*", collector, batch=4, idle_heartbeat=0.2
        )
        try:
            for n in range(3):
                await js.publish(f"{unique_name}.t.Agg.a{n}", b"%d" % n)
            await js.publish(f"{unique_name}._commands.x", b"")  # not an event: filtered out
            await feed.start(after=1)
            await collector.until(2)
            consumers = await nc.request(f"$JS.API.CONSUMER.NAMES.{unique_name}", b"")
            (name,) = json.loads(consumers.data)["consumers"]
            await nc.request(f"$JS.API.CONSUMER.DELETE.{unique_name}.{name}", b"")
            for n in range(3, 13):  # more than a batch, while it is being replaced
                await js.publish(f"{unique_name}.t.Agg.a{n}", b"%d" % n)
            await collector.until(12)
            await asyncio.sleep(0.5)  # nothing doubled arrives late
            assert [m.seq for m in got] == [2, 3, *range(5, 15)]
            assert [m.data for m in got] == [b"%d" % n for n in (1, 2, *range(3, 13))]
            assert feed.resets >= 1 and feed.position == 14
            assert all(m.time_ns > 0 and m.subject.startswith(unique_name) for m in got)
        finally:
            await feed.stop()
            await js.delete_stream(unique_name)
            await nc.close()

    asyncio.run(scenario())


def test_deliveries_are_taken_before_nats_py_dispatches_them(
    nats_url: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatched: list[object] = []

    async def through_nats_py(msg: object) -> None:
        dispatched.append(msg)

    monkeypatch.setattr(feed_module, "_taken_raw", through_nats_py)

    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.add_stream(name=unique_name, subjects=[f"{unique_name}.>"])
        collector = Collector()
        feed = ConsumerFeed(
            nc, unique_name, f"{unique_name}.*.*.*", collector, batch=4, idle_heartbeat=0.2
        )
        try:
            await feed.start(after=0)
            for n in range(6):  # more than a batch: its pull requests end and are renewed
                await js.publish(f"{unique_name}.t.Agg.a{n}", b"%d" % n, headers={"K": f"v{n}"})
            await collector.until(6)
            await asyncio.sleep(0.5)  # heartbeats come meanwhile: taken raw too
            got = collector.got
            assert [(m.seq, m.data, m.headers.get("K")) for m in got] == [
                (n + 1, b"%d" % n, f"v{n}") for n in range(6)
            ]
            assert [m.subject for m in got] == [f"{unique_name}.t.Agg.a{n}" for n in range(6)]
            assert feed.resets == 0 and dispatched == []
        finally:
            await feed.stop()
            await js.delete_stream(unique_name)
            await nc.close()

    asyncio.run(scenario())
