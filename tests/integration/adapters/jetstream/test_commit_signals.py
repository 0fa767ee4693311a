"""Subscriptions wake up on the signal a writer sends after each stored batch (decision 0005),
also in another process (another connection), without the server republishing every message."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from eventsourcing.persistence import Notification, StoredEvent

from adapters.jetstream import Factory, subscription
from adapters.jetstream.recorders import JetStreamApplicationRecorder
from tests.integration.adapters.jetstream.test_stream_safety import create_stream

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]
TOPIC = "tests.signals:Thing.Happened"


def test_a_new_events_stream_has_no_republish(make_factory: FactoryMaker, unique_name: str) -> None:
    factory = make_factory()
    factory.application_recorder()
    config = factory.client.api(f"STREAM.INFO.{unique_name}")["config"]
    assert "republish" not in config


@pytest.mark.parametrize(
    ("dest", "headers_only", "kept"),
    [
        ("_cairn_stored.{stream}.>", True, False),  # the former per-message republish: dropped
        ("audit_copy.{stream}.>", False, True),  # someone else's: left alone
    ],
)
def test_only_the_former_per_message_republish_is_dropped_at_start(
    make_factory: FactoryMaker,
    nats_url: str,
    unique_name: str,
    dest: str,
    headers_only: bool,
    kept: bool,
) -> None:
    republish: dict[str, Any] = {"src": f"{unique_name}.>", "dest": dest.format(stream=unique_name)}
    if headers_only:
        republish["headers_only"] = True
    create_stream(nats_url, unique_name, republish=republish)
    factory = make_factory()
    factory.application_recorder()
    config = factory.client.api(f"STREAM.INFO.{unique_name}")["config"]
    assert (config.get("republish", {}).get("dest") == republish["dest"]) is kept


def test_a_subscriber_on_another_connection_wakes_on_the_writers_signal(
    make_factory: FactoryMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No poll within the test's time: only the signal can wake the subscriber.
    monkeypatch.setattr(subscription, "POLL_INTERVAL", 3600.0)
    writer = make_factory().application_recorder()
    reader = make_factory().application_recorder()
    aggregate = uuid.uuid4()
    writer.insert_events([StoredEvent(aggregate, 1, TOPIC, b"{}")])
    received: list[Notification] = []
    arrived = threading.Event()
    with reader.subscribe(gt=None) as subscribed:

        def follow() -> None:
            for notification in subscribed:
                received.append(notification)
                if len(received) == 3:
                    arrived.set()
                    return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        writer.insert_events([StoredEvent(aggregate, 2, TOPIC, b"{}")])
        writer.insert_events([StoredEvent(aggregate, 3, TOPIC, b"{}")])
        assert arrived.wait(20), f"the subscriber got {len(received)} of 3 events"
    assert [n.originator_version for n in received] == [1, 2, 3]


def test_a_signal_for_a_batch_already_read_wakes_no_pull(
    make_factory: FactoryMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscription, "POLL_INTERVAL", 3600.0)
    writer = make_factory().application_recorder()
    reader = make_factory().application_recorder()
    assert isinstance(writer, JetStreamApplicationRecorder)
    assert isinstance(reader, JetStreamApplicationRecorder)
    pulls = 0
    in_flight = 0
    settled = threading.Condition()
    select = reader.events.reader.select_notifications

    def counted(*args: Any, **kwargs: Any) -> list[Notification]:
        nonlocal pulls, in_flight
        with settled:
            pulls += 1
            in_flight += 1
        try:
            return list(select(*args, **kwargs))
        finally:
            with settled:
                in_flight -= 1
                settled.notify_all()

    monkeypatch.setattr(reader.events.reader, "select_notifications", counted)
    aggregate = uuid.uuid4()
    first = writer.insert_events([StoredEvent(aggregate, 1, TOPIC, b"{}")])
    assert first
    received: list[Notification] = []
    arrived = threading.Condition()
    with reader.subscribe(gt=None) as subscribed:

        def follow() -> None:
            for notification in subscribed:
                with arrived:
                    received.append(notification)
                    arrived.notify_all()

        threading.Thread(target=follow, daemon=True).start()
        with arrived:
            assert arrived.wait_for(lambda: len(received) == 1, 20)
        # A pull still in flight now could take the next batch before its signal comes (and
        # the signal would then rightly wake none): count from when none is.
        with settled:
            assert settled.wait_for(lambda: in_flight == 0, 20)
            before = pulls
        # The first batch's signal again (read already), then a new batch and its signal,
        # on one connection: in this order.
        signals = writer.events.signal_subject
        assert signals is not None

        async def stale() -> None:
            await writer.events.client.nc.publish(signals, str(first[-1]).encode())

        writer.events.client.call(stale())
        writer.insert_events([StoredEvent(aggregate, 2, TOPIC, b"{}")])
        with arrived:
            assert arrived.wait_for(lambda: len(received) == 2, 20)
    assert [n.originator_version for n in received] == [1, 2]
    assert pulls - before == 1  # the new batch's signal alone


def test_a_subscription_into_a_callable_hands_it_pages_in_order_and_yields_nothing(
    make_factory: FactoryMaker,
) -> None:
    writer = make_factory().application_recorder()
    reader = make_factory().application_recorder()
    assert isinstance(reader, JetStreamApplicationRecorder)
    aggregate = uuid.uuid4()
    first = writer.insert_events([StoredEvent(aggregate, 1, TOPIC, b"{}")])
    assert first
    pages: list[list[int]] = []
    handed = threading.Condition()

    def into(page: Sequence[Notification]) -> None:
        with handed:
            pages.append([n.id for n in page])
            handed.notify_all()

    yielded: list[Notification] = []
    with reader.subscribe(gt=first[-1], into=into) as subscribed:
        follower = threading.Thread(target=lambda: yielded.extend(subscribed), daemon=True)
        follower.start()
        writer.insert_events([StoredEvent(aggregate, 2, TOPIC, b"{}")])
        writer.insert_events(
            [StoredEvent(aggregate, 3, TOPIC, b"{}"), StoredEvent(aggregate, 4, TOPIC, b"{}")]
        )
        with handed:
            assert handed.wait_for(lambda: sum(map(len, pages)) == 3, 20)
    follower.join(10)
    handed_ids = [position for page in pages for position in page]
    assert handed_ids == sorted(handed_ids) and handed_ids[0] > first[-1]
    assert not follower.is_alive() and yielded == []
