"""Outages: a killed and restarted nats-server is rejoined; no write is lost or doubled.

Each test runs a private nats-server (sync_interval: always) that it kills with SIGKILL.
"""

from __future__ import annotations

import functools
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import Environment

from adapters.jetstream import EventStoreUnavailable, Factory, JetStreamApplicationRecorder
from domain.event_context import EventContext

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]


def stored(originator_id: UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id, version, "tests.faults:Counter.Incremented", b"{}")


def recorder_on(server: Any, make_factory: FactoryMaker) -> JetStreamApplicationRecorder:
    factory = make_factory(url=server.url, monitor_url=server.monitor_url, NATS_REQUEST_TIMEOUT="2")
    recorder = factory.application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    return recorder


def retry(
    action: Callable[[], Any], within: float = 15.0, failures: list[str] | None = None
) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            return action()
        except EventStoreUnavailable as e:
            if failures is not None:
                failures.append(type(e).__name__)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_the_same_recorder_works_again_after_a_restart(
    private_nats: Callable[..., Any], make_factory: FactoryMaker
) -> None:
    server = private_nats()
    recorder = recorder_on(server, make_factory)
    aggregate_id = uuid.uuid4()
    recorder.insert_events([stored(aggregate_id, 1)])
    received: list[Notification] = []
    with recorder.subscribe(gt=None) as subscription:

        def follow() -> None:
            for notification in subscription:
                received.append(notification)
                if len(received) == 3:
                    return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()

        server.kill()
        started = time.monotonic()
        with pytest.raises(EventStoreUnavailable) as raised:
            recorder.insert_events([stored(aggregate_id, 2)])
        assert time.monotonic() - started < 3.0  # fails fast (at most the request timeout)
        assert raised.value.retryable
        assert "retry" in str(raised.value)

        server.start()
        retry(lambda: recorder.insert_events([stored(aggregate_id, 2)]))
        recorder.insert_events([stored(aggregate_id, 3)])
        follower.join(15)
    assert [e.originator_version for e in recorder.select_events(aggregate_id)] == [1, 2, 3]
    assert [n.originator_version for n in received] == [1, 2, 3]  # the subscription resumed


def test_acknowledged_events_survive_kills_and_none_is_doubled(
    private_nats: Callable[..., Any], make_factory: FactoryMaker
) -> None:
    server = private_nats()
    recorder = recorder_on(server, make_factory)
    aggregate_id = uuid.uuid4()
    acknowledged: dict[int, list[int]] = {}
    stop = threading.Event()
    errors: list[BaseException] = []
    failures: list[str] = []

    def write() -> None:
        try:
            version = 0
            while not stop.is_set() or version < 60:
                version += 1
                # Every command retried with its id until acknowledged, as the API will.
                save = functools.partial(
                    recorder.insert_events,
                    [stored(aggregate_id, version)],
                    context=EventContext(command_id=f"increment-{version}"),
                )
                ids = retry(save, 30, failures)
                acknowledged[version] = list(ids)
        except BaseException as e:
            errors.append(e)

    writer = threading.Thread(target=write)
    writer.start()
    rng = random.Random(7)
    for _ in range(3):
        time.sleep(rng.uniform(0.05, 0.4))
        server.kill()
        time.sleep(rng.uniform(0.0, 0.3))
        server.start()
    stop.set()
    writer.join(60)
    assert not errors, errors
    assert failures  # the kills did interrupt writes
    events = recorder.select_events(aggregate_id)
    versions = [e.originator_version for e in events]
    assert versions == sorted(acknowledged) == list(range(1, len(acknowledged) + 1))
    notifications = recorder.select_notifications(None, 10_000)
    assert [n.id for n in notifications] == [ids[0] for _, ids in sorted(acknowledged.items())]


def test_starting_without_a_server_fails_within_the_connect_timeout(unique_name: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    env = {
        "NATS_URL": f"nats://127.0.0.1:{port}",
        "NATS_STREAM": unique_name,
        "NATS_CONNECT_TIMEOUT": "1",
    }
    started = time.monotonic()
    with pytest.raises(EventStoreUnavailable, match="cannot connect"):
        Factory(Environment(env=env))
    assert time.monotonic() - started < 3.0


def test_closing_fails_appends_in_flight_at_once(
    private_nats: Callable[..., Any], make_factory: FactoryMaker
) -> None:
    server = private_nats()
    factory = make_factory(
        url=server.url, monitor_url=server.monitor_url, NATS_REQUEST_TIMEOUT="30"
    )
    recorder = factory.application_recorder()
    recorder.insert_events([stored(uuid.uuid4(), 1)])
    outcome: list[BaseException] = []

    def save() -> None:
        try:
            recorder.insert_events([stored(uuid.uuid4(), 1), stored(uuid.uuid4(), 1)])
        except BaseException as e:
            outcome.append(e)

    server.freeze()  # the server takes the write, answers nothing
    try:
        writer = threading.Thread(target=save)
        writer.start()
        time.sleep(0.3)
        started = time.monotonic()
        factory.close()
        writer.join(10)
        assert not writer.is_alive()
        assert time.monotonic() - started < 5
        assert len(outcome) == 1 and isinstance(outcome[0], EventStoreUnavailable), outcome
    finally:
        server.thaw()
