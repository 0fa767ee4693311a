"""Replays through select_notifications (raw bulk reads, consumers for long ones, cursors kept
between calls) read exactly what nats-py's own path reads, on a real nats-server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import Notification, StoredEvent

from adapters.jetstream import EventStoreUnavailable, Factory, JetStreamApplicationRecorder, scan
from adapters.jetstream import headers as h
from domain.event_context import EventContext

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]
TOPIC = "tests.replay:Ledger.Entered"
OTHER = "tests.replay:Ledger.Closed"


def recorder_of(factory: Factory) -> JetStreamApplicationRecorder:
    recorder = factory.application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    return recorder


def append(recorder: JetStreamApplicationRecorder, saves: int, size: int, tag: str) -> None:
    """Saves under command ids (so the stream holds markers between the events), some on
    string ids, some of another topic."""
    for number in range(saves):
        originator: uuid.UUID | str = uuid.uuid4() if number % 3 else f"user:{tag}.{number}"
        events = [
            StoredEvent(originator, version, OTHER if version % 7 == 0 else TOPIC, b'{"n":1}')
            for version in range(1, size + 1)
        ]
        recorder.insert_events(events, context=EventContext(command_id=f"{tag}-{number}"))


def reference(recorder: JetStreamApplicationRecorder) -> list[Notification]:
    """Everything, read with nats-py's dispatch and header dicts (the path before bulk reads)."""
    reader = recorder.events.reader
    found: list[Notification] = []
    seq = 1
    while True:
        # Pages of 250: nats-py's dispatch of a 1,000-message page outlasted the 2 s request
        # timeout the outage test sets on a loaded machine (load average 10-15).
        body = {"seq": seq, "batch": 250, "next_by_subj": reader.events_filter}
        msgs, pending = reader.client.direct_get_batch(reader.stream, body)
        for msg in msgs:
            headers = msg.headers or {}
            found.append(
                h.notification(
                    headers, msg.data, headers[h.NATS_SUBJECT], int(headers[h.NATS_SEQUENCE])
                )
            )
        if not msgs or pending == 0:
            return found
        seq = found[-1].id + 1


def replay(recorder: JetStreamApplicationRecorder, limit: int = 1000, **kwargs: Any) -> list[Any]:
    found: list[Notification] = []
    start = 1
    while page := recorder.select_notifications(start, limit, **kwargs):
        found.extend(page)
        start = page[-1].id + 1
    return found


@pytest.mark.parametrize("consumer_after", [2000, 10**9])
def test_a_replay_reads_what_nats_py_reads(
    make_factory: FactoryMaker, monkeypatch: pytest.MonkeyPatch, consumer_after: int
) -> None:
    monkeypatch.setattr(scan, "CONSUMER_AFTER", consumer_after)
    recorder = recorder_of(make_factory())
    append(recorder, 20, 150, "a")
    append(recorder, 300, 2, "b")
    expected = reference(recorder)
    assert len(expected) == 3600
    before = recorder.events.client.messages_fetched
    assert replay(recorder) == expected
    assert recorder.events.client.messages_fetched - before >= 3600
    assert recorder.select_notifications(None, 10**6) == expected
    assert replay(recorder, topics=[OTHER]) == [n for n in expected if n.topic == OTHER]
    middle = expected[1500].id
    assert recorder.select_notifications(10, 2000, stop=middle) == [
        n for n in expected if 10 <= n.id <= middle
    ]
    assert replay(recorder, limit=700) == expected
    assert consumers_left(recorder) == [], "a replay that ended deletes its consumer"


def consumers_left(recorder: JetStreamApplicationRecorder) -> list[str]:
    client, stream = recorder.events.client, recorder.events.stream
    deadline = time.monotonic() + 5
    while True:
        names: list[str] = client.api(f"CONSUMER.NAMES.{stream}")["consumers"] or []
        if not names or time.monotonic() > deadline:
            return names
        time.sleep(0.05)


def test_a_replay_misses_nothing_appended_between_its_calls(make_factory: FactoryMaker) -> None:
    recorder = recorder_of(make_factory())
    append(recorder, 30, 100, "a")
    found: list[Notification] = []
    start, rounds = 1, 0
    while page := recorder.select_notifications(start, 1000):
        found.extend(page)
        start = page[-1].id + 1
        if rounds < 4:
            append(recorder, 3, 100, f"more{rounds}")
        rounds += 1
    assert found == reference(recorder)
    assert len(found) == 4200


def test_a_replay_goes_on_when_its_consumer_is_deleted(make_factory: FactoryMaker) -> None:
    recorder = recorder_of(make_factory())
    append(recorder, 50, 100, "a")
    client, stream = recorder.events.client, recorder.events.stream
    first = recorder.select_notifications(1, 1000)
    names = client.api(f"CONSUMER.NAMES.{stream}")["consumers"]
    assert names, "a long replay reads with a consumer"
    for name in names:
        client.api(f"CONSUMER.DELETE.{stream}.{name}")
    rest = replay_from(recorder, first[-1].id + 1)
    assert [*first, *rest] == reference(recorder)


def replay_from(recorder: JetStreamApplicationRecorder, start: int) -> list[Notification]:
    found: list[Notification] = []
    while page := recorder.select_notifications(start, 1000):
        found.extend(page)
        start = page[-1].id + 1
    return found


def test_a_replay_fails_during_an_outage_and_resumes_after_it(
    private_nats: Callable[..., Any], make_factory: FactoryMaker
) -> None:
    server = private_nats()
    factory = make_factory(url=server.url, monitor_url=server.monitor_url, NATS_REQUEST_TIMEOUT="2")
    recorder = recorder_of(factory)
    append(recorder, 40, 100, "a")
    # The reference is read by a client with the default request timeout: only the replay is
    # under test here, and nats-py's dispatch of a page outlasted 2 s on a loaded machine.
    steady = make_factory(url=server.url, monitor_url=server.monitor_url)
    expected = reference(recorder_of(steady))
    first = recorder.select_notifications(1, 1000)  # leaves a cursor (and consumer) behind
    server.kill()
    deadline = time.monotonic() + 10
    while recorder.events.client.is_connected and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(EventStoreUnavailable):
        recorder.select_notifications(first[-1].id + 1, 1000)
    server.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            rest = replay_from(recorder, first[-1].id + 1)
            break
        except EventStoreUnavailable:
            assert time.monotonic() < deadline, "reads did not resume after the restart"
            time.sleep(0.1)
    assert [*first, *rest] == expected
