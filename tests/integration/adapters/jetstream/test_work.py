"""The shared work consumer of `cairn worker` (adapters/jetstream/work.py) against a real
nats-server: a lone message is handed over at once (a waiting pull for a batch is answered when
a message is there, not when the batch is full or the pull expires), every message is handled
and acknowledged once, and never more at a time than the process's concurrency; messages that
ask for nothing are acknowledged without a handler, payloads are never sent (headers only), and
a message handed back comes again after its delay (decision 0043). The acks of messages that
asked for nothing wait for the next write: a process killed before it wrote them leaves those
messages to come again, to be skipped again (decision 0062)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nats
import pytest
from nats.js.api import StreamConfig

from adapters.jetstream import loops, pulls
from adapters.jetstream.work import ConsumerSpec, DurableWork, Handler, WorkItem

pytestmark = pytest.mark.integration

# A pull that finds nothing waits this long; a message published meanwhile must not wait for it.
PULL_WAIT_S = 10.0


async def _publish(nats_url: str, stream: str, count: int) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for n in range(count):
            await js.publish(f"{stream}.work.{n}", b"x")
    finally:
        await nc.close()


async def _unfinished(nats_url: str, stream: str) -> int:
    """Messages of the consumer not acknowledged yet (waiting or handed out), once it is 0 or
    after 10 s."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for _ in range(100):
            info = await js.consumer_info(stream, f"{stream}_workers")
            left = int(info.num_ack_pending) + int(info.num_pending)
            if left == 0:
                break
            await asyncio.sleep(0.1)
        return left
    finally:
        await nc.close()


async def _add_stream(nats_url: str, stream: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"]))
    finally:
        await nc.close()


def running(nats_url: str, stream: str, handle: Handler, concurrency: int) -> Any:
    spec = ConsumerSpec(stream, f"{stream}_workers", f"{stream}.work.*", ack_wait=30)
    work = DurableWork(nats_url, spec, handle, concurrency=concurrency, pull_wait=PULL_WAIT_S)
    return _running(work)


def test_a_lone_message_is_handled_without_waiting_for_the_pull_to_expire(
    nats_url: str, unique_name: str
) -> None:
    asyncio.run(_add_stream(nats_url, unique_name))
    handled = threading.Event()

    def handle(item: WorkItem) -> None:
        handled.set()

    with running(nats_url, unique_name, handle, concurrency=8):
        asyncio.run(_publish(nats_url, unique_name, 1))
        # Well before the waiting pull expires: one message does not wait for a batch.
        assert handled.wait(PULL_WAIT_S * 0.8)


def test_every_message_is_handled_and_acknowledged_once_within_the_concurrency(
    nats_url: str, unique_name: str
) -> None:
    asyncio.run(_add_stream(nats_url, unique_name))
    seen: list[str] = []
    lock = threading.Lock()
    at_once, most = [0], [0]
    done = threading.Event()

    def handle(item: WorkItem) -> None:
        with lock:
            at_once[0] += 1
            most[0] = max(most[0], at_once[0])
        threading.Event().wait(0.01)  # some work, so that handlers overlap
        with lock:
            at_once[0] -= 1
            seen.append(item.subject)
            if len(seen) == 40:
                done.set()

    with running(nats_url, unique_name, handle, concurrency=4):
        asyncio.run(_publish(nats_url, unique_name, 40))
        assert done.wait(60)
        left = asyncio.run(_unfinished(nats_url, unique_name))
    assert sorted(seen) == sorted(f"{unique_name}.work.{n}" for n in range(40))
    assert 1 <= most[0] <= 4
    assert left == 0  # all acknowledged, none pending


async def _consumer_config(nats_url: str, stream: str) -> object:
    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().consumer_info(stream, f"{stream}_workers")).config
    finally:
        await nc.close()


def test_messages_that_ask_for_nothing_are_acknowledged_without_a_handler_or_payload(
    nats_url: str, unique_name: str
) -> None:
    asyncio.run(_add_stream(nats_url, unique_name))
    handled: list[WorkItem] = []
    done = threading.Event()

    def handle(item: WorkItem) -> None:
        handled.append(item)
        if len(handled) == 10:
            done.set()

    def skip(subject: bytes, block: bytes | None) -> bool:
        return int(subject.rpartition(b".")[2]) % 3 != 0

    spec = ConsumerSpec(unique_name, f"{unique_name}_workers", f"{unique_name}.work.*")
    work = DurableWork(nats_url, spec, handle, concurrency=2, pull_wait=PULL_WAIT_S, skip=skip)
    with _running(work):
        asyncio.run(_publish(nats_url, unique_name, 30))
        assert done.wait(60)
        left = asyncio.run(_unfinished(nats_url, unique_name))
        config = asyncio.run(_consumer_config(nats_url, unique_name))
    assert sorted(int(i.subject.rpartition(".")[2]) for i in handled) == list(range(0, 30, 3))
    assert left == 0  # the twenty skipped were acknowledged too
    assert work.handled == 30
    # Headers only: the handler sees a message's size, never its payload.
    assert getattr(config, "headers_only", None) is True
    assert {i.headers.get("Nats-Msg-Size") for i in handled} == {"1"}


def test_a_message_handed_back_comes_again_after_its_delay(nats_url: str, unique_name: str) -> None:
    asyncio.run(_add_stream(nats_url, unique_name))
    deliveries: list[int] = []
    done = threading.Event()

    def handle(item: WorkItem) -> float | None:
        deliveries.append(item.deliveries)
        if item.deliveries < 2:
            return 0.2  # not done: again in 0.2 s
        done.set()
        return None

    spec = ConsumerSpec(unique_name, f"{unique_name}_workers", f"{unique_name}.work.*")
    work = DurableWork(nats_url, spec, handle, concurrency=2, pull_wait=PULL_WAIT_S)
    with _running(work):
        asyncio.run(_publish(nats_url, unique_name, 1))
        assert done.wait(30)
        left = asyncio.run(_unfinished(nats_url, unique_name))
    assert deliveries == [1, 2]
    assert left == 0


# A process that skips every message and writes its acks only with a later write (an hour:
# none comes, its room is large enough and its pull open long enough that it asks for nothing
# more), then waits to be killed.
_SKIPPING_PROCESS = """
import asyncio, sys
from adapters.jetstream import loops, pulls
from adapters.jetstream.work import ConsumerSpec, DurableWork

pulls.ACK_LINGER_S = 3600.0
url, stream, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = ConsumerSpec(stream, stream + "_workers", stream + ".work.*", ack_wait=1.0)
work = DurableWork(
    url, spec, lambda item: None, concurrency=64, pull_wait=600.0, skip=lambda s, b: True
)

async def main():
    stopping = asyncio.Event()
    running = asyncio.ensure_future(work.run(stopping))
    while work.handled < count:
        await asyncio.sleep(0.01)
    print("skipped", work.handled, flush=True)
    await running

loops.run(main())
"""


async def _ack_pending(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(stream, f"{stream}_workers")
        return int(info.num_ack_pending)
    finally:
        await nc.close()


def test_skipped_messages_whose_acks_a_killed_process_held_come_again_to_be_skipped(
    nats_url: str, unique_name: str
) -> None:
    asyncio.run(_add_stream(nats_url, unique_name))
    asyncio.run(_publish(nats_url, unique_name, 10))
    killed = subprocess.Popen(
        [sys.executable, "-c", _SKIPPING_PROCESS, nats_url, unique_name, "10"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        assert killed.stdout is not None
        assert killed.stdout.readline().split() == ["skipped", "10"]
        # Skipped, their acks not written yet: still pending on the server.
        assert asyncio.run(_ack_pending(nats_url, unique_name)) == 10
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)

    skipped_again: list[bytes] = []

    def skip(subject: bytes, block: bytes | None) -> bool:
        skipped_again.append(subject)
        return True

    spec = ConsumerSpec(unique_name, f"{unique_name}_workers", f"{unique_name}.work.*", 1.0)
    work = DurableWork(nats_url, spec, _never, concurrency=2, pull_wait=PULL_WAIT_S, skip=skip)
    with _running(work):
        left = asyncio.run(_unfinished(nats_url, unique_name))
    assert left == 0
    assert sorted(skipped_again) == sorted(f"{unique_name}.work.{n}".encode() for n in range(10))


def test_acks_held_for_a_later_write_are_written_when_the_process_stops(
    nats_url: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulls, "ACK_LINGER_S", 3600.0)
    asyncio.run(_add_stream(nats_url, unique_name))
    asyncio.run(_publish(nats_url, unique_name, 10))
    spec = ConsumerSpec(unique_name, f"{unique_name}_workers", f"{unique_name}.work.*")
    work = DurableWork(
        nats_url, spec, _never, concurrency=64, pull_wait=600.0, skip=lambda s, b: True
    )
    with _running(work):
        assert _until(lambda: work.handled == 10)
        assert asyncio.run(_ack_pending(nats_url, unique_name)) == 10  # held
    # Stopped: written before the connection closed (ack_wait is 30 s: not a redelivery).
    assert asyncio.run(_unfinished(nats_url, unique_name)) == 0


def _never(item: WorkItem) -> None:
    raise AssertionError(f"{item.subject} was to be skipped")


def _until(condition: Any, seconds: float = 30.0) -> bool:
    done = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return bool(condition())


@contextmanager
def _running(work: DurableWork) -> Iterator[None]:
    loop = loops.new_event_loop()  # the worker's loop (decision 0055)
    stopping = asyncio.Event()
    ready = threading.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(work.run(stopping, ready.set),), daemon=True
    )
    thread.start()
    assert ready.wait(30), "the work consumer did not start"
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(PULL_WAIT_S + 20)
