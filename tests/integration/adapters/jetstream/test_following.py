"""Following the stream with a live consumer (decision 0058): whatever goes wrong on the way
(a delivery lost, heartbeats lost, the consumer deleted, the server restarted), every event
is handed on once, in order; a consumer refused at the start leaves the signals' way."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from eventsourcing.persistence import Notification, StoredEvent

from adapters.jetstream import Factory
from adapters.jetstream.following import Following
from adapters.jetstream.recorders import JetStreamApplicationRecorder
from adapters.jetstream.subscription import JetStreamSubscription
from domain.event_context import EventContext
from tests.integration.adapters.jetstream.test_faults import retry
from tests.integration.adapters.jetstream.test_stream_safety import create_stream

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]
TOPIC = "tests.following:Thing.Happened"


def recorder_of(factory: Factory) -> JetStreamApplicationRecorder:
    recorder = factory.application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    return recorder


class Pages:
    """What `into` was handed, waited for by the test."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.versions: list[int] = []
        self._handed = threading.Condition()

    def __call__(self, page: Sequence[Notification]) -> None:
        with self._handed:
            self.ids.extend(n.id for n in page)
            self.versions.extend(n.originator_version for n in page)
            self._handed.notify_all()

    def wait_for(self, count: int, within: float = 20) -> None:
        with self._handed:
            assert self._handed.wait_for(lambda: len(self.versions) >= count, within), (
                f"handed {len(self.versions)} of {count}"
            )


@contextmanager
def following(
    recorder: JetStreamApplicationRecorder, pages: Pages, **options: Any
) -> Iterator[Following]:
    subscription = Following(recorder, recorder.events.client, pages, **options)
    with subscription:
        yield subscription


def save(
    recorder: JetStreamApplicationRecorder,
    aggregate: uuid.UUID,
    *versions: int,
    marker: bool = True,
) -> None:
    events = [StoredEvent(aggregate, version, TOPIC, b"{}") for version in versions]
    # A command id: the save also stores a marker (an internal record the reading skips).
    context = EventContext(command_id=f"c-{uuid.uuid4()}") if marker else None
    recorder.insert_events(events, context=context)


def test_pages_come_in_order_without_internal_records_and_iterating_yields_nothing(
    make_factory: FactoryMaker,
) -> None:
    writer, reader = recorder_of(make_factory()), recorder_of(make_factory())
    aggregate = uuid.uuid4()
    save(writer, aggregate, 1)
    pages, yielded = Pages(), list[Notification]()
    with reader.subscribe(gt=None, into=pages) as subscription:
        assert isinstance(subscription, Following)
        iterating = threading.Thread(target=lambda: yielded.extend(subscription), daemon=True)
        iterating.start()
        save(writer, aggregate, 2, 3)
        save(writer, aggregate, 4)
        pages.wait_for(4)
    iterating.join(10)
    assert pages.versions == [1, 2, 3, 4] and pages.ids == sorted(pages.ids)
    assert not iterating.is_alive() and yielded == []


def test_a_lost_delivery_is_a_gap_and_a_new_consumer_brings_it_once(
    make_factory: FactoryMaker,
) -> None:
    writer, reader = recorder_of(make_factory()), recorder_of(make_factory())
    aggregate = uuid.uuid4()
    pages = Pages()
    with following(reader, pages, gt=writer.max_notification_id()) as subscription:
        consumer = subscription.consumer
        deliver, seen = consumer.on_delivery, 0

        def lose_the_second(*args: Any) -> None:
            nonlocal seen
            seen += 1
            if seen != 2:
                deliver(*args)

        consumer.on_delivery = lose_the_second  # type: ignore[method-assign,assignment]
        for version in range(1, 6):
            save(writer, aggregate, version)
        pages.wait_for(5)
        assert consumer.resets >= 1
    assert pages.versions == [1, 2, 3, 4, 5]


def test_a_heartbeat_past_the_last_delivery_brings_the_lost_last_one(
    make_factory: FactoryMaker,
) -> None:
    writer, reader = recorder_of(make_factory()), recorder_of(make_factory())
    aggregate = uuid.uuid4()
    save(writer, aggregate, 1)
    pages = Pages()
    with following(reader, pages, idle_heartbeat=0.5) as subscription:
        pages.wait_for(1)
        consumer = subscription.consumer
        deliver, lost = consumer.on_delivery, threading.Event()

        def lose_one(*args: Any) -> None:
            if lost.is_set():
                deliver(*args)
            lost.set()

        consumer.on_delivery = lose_one  # type: ignore[method-assign,assignment]
        # Lost: nothing after it shows the gap but a heartbeat (no marker before it either).
        save(writer, aggregate, 2, marker=False)
        pages.wait_for(2)
        assert lost.is_set() and consumer.resets == 1
    assert pages.versions == [1, 2]


def test_without_heartbeats_the_consumer_is_replaced(make_factory: FactoryMaker) -> None:
    writer, reader = recorder_of(make_factory()), recorder_of(make_factory())
    aggregate = uuid.uuid4()
    pages = Pages()
    with following(reader, pages, idle_heartbeat=0.3) as subscription:
        consumer = subscription.consumer
        silenced = consumer.on_status
        consumer.on_status = lambda head: None  # type: ignore[method-assign]
        deadline = time.monotonic() + 10
        while consumer.resets == 0:
            assert time.monotonic() < deadline, "the silent consumer was not replaced"
            time.sleep(0.05)
        consumer.on_status = silenced  # type: ignore[method-assign]
        save(writer, aggregate, 1, 2)
        pages.wait_for(2)
    assert pages.versions == [1, 2]


def test_a_consumer_deleted_on_the_server_is_replaced(make_factory: FactoryMaker) -> None:
    writer, reader = recorder_of(make_factory()), recorder_of(make_factory())
    aggregate = uuid.uuid4()
    save(writer, aggregate, 1)
    pages = Pages()
    with following(reader, pages) as subscription:
        pages.wait_for(1)
        name = subscription.consumer.name.decode()
        writer.events.client.api(f"CONSUMER.DELETE.{writer.events.stream}.{name}")
        save(writer, aggregate, 2)
        pages.wait_for(2)
        assert subscription.consumer.resets >= 1
    assert pages.versions == [1, 2]


def test_after_a_server_restart_a_new_consumer_goes_on_from_the_last_event(
    private_nats: Callable[..., Any], make_factory: FactoryMaker
) -> None:
    server = private_nats()
    factory = make_factory(url=server.url, monitor_url=server.monitor_url, NATS_REQUEST_TIMEOUT="2")
    recorder = recorder_of(factory)
    aggregate = uuid.uuid4()
    save(recorder, aggregate, 1)
    pages = Pages()
    with following(recorder, pages) as subscription:
        pages.wait_for(1)
        server.kill()
        server.start()
        retry(lambda: save(recorder, aggregate, 2))
        save(recorder, aggregate, 3)
        pages.wait_for(3)
        assert subscription.consumer.resets >= 1
    assert pages.versions == [1, 2, 3]


def test_a_consumer_refused_at_the_start_leaves_signals_and_direct_gets(
    make_factory: FactoryMaker, nats_url: str, unique_name: str
) -> None:
    create_stream(nats_url, unique_name, max_consumers=1)
    writer, reader = recorder_of(make_factory()), recorder_of(make_factory())
    config = {"name": "taken", "ack_policy": "none", "mem_storage": True}
    writer.events.client.api(
        f"CONSUMER.CREATE.{unique_name}.taken", {"stream_name": unique_name, "config": config}
    )
    aggregate = uuid.uuid4()
    pages = Pages()
    with reader.subscribe(gt=None, into=pages) as subscription:
        assert isinstance(subscription, JetStreamSubscription)
        save(writer, aggregate, 1)
        pages.wait_for(1)
    assert pages.versions == [1]


def test_an_event_that_cannot_be_decoded_stops_the_subscription_with_its_error(
    make_factory: FactoryMaker,
) -> None:
    writer, reader = recorder_of(make_factory()), recorder_of(make_factory())
    aggregate = uuid.uuid4()
    save(writer, aggregate, 1)
    pages = Pages()
    with following(reader, pages) as subscription:
        pages.wait_for(1)
        # An event's subject without the headers every event has.
        subject = f"{writer.events.prefix}.t1.Thing.{uuid.uuid4().hex}"
        writer.events.client.call(writer.events.client.nc.publish(subject, b"{}"))
        with pytest.raises(KeyError):
            next(subscription)
    assert pages.versions == [1]
