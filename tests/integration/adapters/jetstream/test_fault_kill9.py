"""Appends with retries while nats-server is killed (SIGKILL) and restarted at random points:
every acknowledged event is read back, and none twice."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from adapters.jetstream import Factory
from adapters.jetstream.errors import EventStoreUnavailable
from domain.event_context import EventContext
from infra.stack.ports import wait_until
from infra.stack.servers import NatsServer

pytestmark = pytest.mark.integration

MIN_SAVES = 400
MAX_SAVES = 1_000_000  # a bound, never reached: the kills end far sooner
AGGREGATES = 8
KILLS = 6
TOPIC = "tests.fault:Ledger.Entered"


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats", "always")
    server.start()
    assert wait_until(server.healthy, 20)
    yield server
    if server.process is not None:
        server.process.stop()


def _recorder(
    server: NatsServer, name: str
) -> tuple[InfrastructureFactory[Any], ApplicationRecorder]:
    env = Environment(
        name="fault",
        env={
            "PERSISTENCE_MODULE": "adapters.jetstream",
            "NATS_URL": server.url,
            "NATS_MONITOR_URL": server.monitor_url,
            "NATS_STREAM": name,
            "NATS_SUBJECT_PREFIX": name,
        },
    )
    factory = InfrastructureFactory.construct(env)
    return factory, factory.application_recorder()


def _kill_and_restart(
    server: NatsServer, rng: random.Random, kills_done: threading.Event, stop: threading.Event
) -> None:
    """Writers keep saving until `kills_done`: a fast machine must not finish its saves before
    the first kill, or the test would prove nothing."""
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.05, 0.5))
        if stop.is_set():
            return
        assert server.process is not None and server.process.pid is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.stop()  # reaps the killed process
        time.sleep(rng.uniform(0.0, 0.6))
        server.start()
        assert wait_until(server.healthy, 20)
    kills_done.set()
    # The server was started from this thread: it gets SIGTERM when this thread ends (the
    # launcher sets PR_SET_PDEATHSIG, which Linux ties to the parent *thread*). So stay.
    stop.wait()


def _read_all(recorder: ApplicationRecorder) -> list[tuple[uuid.UUID, int, int]]:
    """Everything in the stream; a read right after a restart may need the client to rejoin."""
    deadline = time.monotonic() + 30
    while True:
        try:
            stored: list[tuple[uuid.UUID, int, int]] = []
            start = 1
            while page := recorder.select_notifications(start=start, limit=500):
                stored.extend(
                    (uuid.UUID(str(n.originator_id)), n.originator_version, n.id) for n in page
                )
                start = page[-1].id + 1
            return stored
        except EventStoreUnavailable:
            assert time.monotonic() < deadline, "the store did not come back within 30 s"
            time.sleep(0.1)


def _insert_retrying(
    recorder: ApplicationRecorder,
    events: list[StoredEvent],
    command_id: str,
    on_retry: Callable[[EventStoreUnavailable], None],
) -> Sequence[int]:
    """Saves `events`, retrying while the server is down (the same command id, so a retried
    save whose acknowledgement was lost is not stored twice)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            ids = recorder.insert_events(events, context=EventContext(command_id=command_id))
            assert ids is not None and len(ids) == len(events)
            return ids
        except EventStoreUnavailable as e:
            on_retry(e)
            assert time.monotonic() < deadline, "no recovery within 60 s"
            time.sleep(0.02)


def _assert_stored_exactly(
    server: NatsServer,
    recorder: ApplicationRecorder,
    acknowledged: dict[tuple[uuid.UUID, int], int],
) -> None:
    """Restarts the server from this thread (see _kill_and_restart), reads everything back:
    every acknowledged event at its acknowledged position, none twice, nothing else."""
    assert server.process is not None
    server.process.stop()
    server.start()
    assert wait_until(server.healthy, 20)
    stored = _read_all(recorder)
    keys = [(aggregate, version) for aggregate, version, _ in stored]
    assert len(keys) == len(set(keys)), "an event was stored twice"
    assert {(a, v): i for a, v, i in stored} == acknowledged
    assert len(stored) == len(acknowledged)


def test_every_acknowledged_event_survives_kill9_exactly_once(
    private_nats: NatsServer, unique_name: str
) -> None:
    seed = int(os.environ.get("CAIRN_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault seed {seed} (set CAIRN_FAULT_SEED to repeat)")
    rng = random.Random(seed)
    factory, recorder = _recorder(private_nats, unique_name)
    aggregates = [uuid.uuid4() for _ in range(AGGREGATES)]
    versions = dict.fromkeys(aggregates, 0)
    acknowledged: dict[tuple[uuid.UUID, int], int] = {}
    retries: list[EventStoreUnavailable] = []
    kills_done, stop = threading.Event(), threading.Event()
    killer = threading.Thread(target=_kill_and_restart, args=(private_nats, rng, kills_done, stop))
    killer.start()
    try:
        for index in range(MAX_SAVES):
            if index >= MIN_SAVES and kills_done.is_set():
                break
            aggregate = aggregates[index % AGGREGATES]
            version = versions[aggregate] + 1
            event = StoredEvent(aggregate, version, TOPIC, f'{{"i":{index}}}'.encode())
            ids = _insert_retrying(recorder, [event], f"{unique_name}-{index}", retries.append)
            acknowledged[(aggregate, version)] = ids[0]
            versions[aggregate] = version
    finally:
        stop.set()
        killer.join()

    assert kills_done.is_set(), "the writer stopped before every kill happened"
    assert retries, "the kills interrupted no save"
    _assert_stored_exactly(private_nats, recorder, acknowledged)
    print(f"{len(acknowledged)} saves, {len(retries)} retried attempts, {KILLS} kill -9 + restart")
    factory.close()


CONCURRENT_WRITERS = 8
MIN_SAVES_PER_WRITER = 50
MAX_SAVES_PER_WRITER = 1_000_000


def test_concurrent_saves_in_combined_batches_survive_kill9_exactly_once(
    private_nats: NatsServer, unique_name: str
) -> None:
    """The same with writers in parallel, so that saves share atomic batches (group commit)
    when the server dies: each save is stored entirely or not at all, never twice."""
    seed = int(os.environ.get("CAIRN_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault seed {seed} (set CAIRN_FAULT_SEED to repeat)")
    rng = random.Random(seed)
    factory, recorder = _recorder(private_nats, unique_name)
    assert isinstance(factory, Factory)
    sizes: list[int] = []
    take_group = factory.client.appends._take_group

    def spy(pending: Any) -> Any:
        group = take_group(pending)
        sizes.append(len(group))
        return group

    factory.client.appends._take_group = spy  # type: ignore[method-assign]
    retries: list[str] = []
    acknowledged: dict[tuple[uuid.UUID, int], int] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []
    kills_done, stop = threading.Event(), threading.Event()

    def write(number: int) -> None:
        aggregate = uuid.uuid4()
        try:
            for version in range(1, MAX_SAVES_PER_WRITER + 1):
                if version > MIN_SAVES_PER_WRITER and kills_done.is_set():
                    break
                events = [
                    StoredEvent(aggregate, version * 2 - 1, TOPIC, b"{}"),
                    StoredEvent(aggregate, version * 2, TOPIC, b"{}"),
                ]
                ids = _insert_retrying(
                    recorder,
                    events,
                    f"{unique_name}-{number}-{version}",
                    lambda e: retries.append(type(e).__name__),
                )
                with lock:
                    acknowledged[(aggregate, version * 2 - 1)] = ids[0]
                    acknowledged[(aggregate, version * 2)] = ids[1]
        except BaseException as e:
            errors.append(e)

    killer = threading.Thread(target=_kill_and_restart, args=(private_nats, rng, kills_done, stop))
    writers = [threading.Thread(target=write, args=(n,)) for n in range(CONCURRENT_WRITERS)]
    killer.start()
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(180)
    finally:
        stop.set()
        killer.join()
    assert not errors, errors
    assert kills_done.is_set(), "the writers stopped before every kill happened"
    assert any(size > 1 for size in sizes), "no saves were combined"
    assert retries, "the kills interrupted no save"
    print(f"{len(retries)} retried attempts ({sorted(set(retries))}), {len(sizes)} batches")

    _assert_stored_exactly(private_nats, recorder, acknowledged)
    factory.close()
