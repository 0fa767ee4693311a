"""Subscriptions wake up on the signal a writer sends after each stored batch (decision 0005),
also in another process (another connection), without the server republishing every message."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from eventsourcing.persistence import Notification, StoredEvent

from adapters.jetstream import Factory, subscription
from tests.integration.adapters.jetstream.test_stream_safety import create_stream

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]
TOPIC = "tests.signals:Thing.Happened"


def test_a_new_events_stream_has_no_republish(make_factory: FactoryMaker, unique_name: str) -> None:
    factory = make_factory()
    factory.application_recorder()
    config = factory.client.api(f"STREAM.INFO.{unique_name}")["config"]
    assert "republish" not in config


def test_the_former_per_message_republish_is_dropped_at_start(
    make_factory: FactoryMaker, nats_url: str, unique_name: str
) -> None:
    former = {"src": f"{unique_name}.>", "dest": f"_cairn_stored.{unique_name}.>"}
    create_stream(nats_url, unique_name, republish={**former, "headers_only": True})
    factory = make_factory()
    factory.application_recorder()
    config = factory.client.api(f"STREAM.INFO.{unique_name}")["config"]
    assert "republish" not in config


def test_a_republish_of_someone_else_is_left_alone(
    make_factory: FactoryMaker, nats_url: str, unique_name: str
) -> None:
    theirs = {"src": f"{unique_name}.>", "dest": f"audit_copy.{unique_name}.>"}
    create_stream(nats_url, unique_name, republish=theirs)
    factory = make_factory()
    factory.application_recorder()
    config = factory.client.api(f"STREAM.INFO.{unique_name}")["config"]
    assert config["republish"]["dest"] == theirs["dest"]


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
