"""The eventsourcing library's own recorder conformance suites, unmodified, on a real JetStream.

The suites are unittest classes: they read the server from CAIRN_NATS_URL /
CAIRN_NATS_MONITOR_URL (exported by tests/conftest.py) and use a stream of their own per test,
deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from adapters.jetstream import (
    Factory,
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamTrackingRecorder,
)
from adapters.jetstream.locator import records_stream

pytestmark = pytest.mark.integration


def stream_env(name: str) -> dict[str, str]:
    env = {
        "PERSISTENCE_MODULE": "adapters.jetstream",
        "NATS_URL": os.environ["CAIRN_NATS_URL"],
        "NATS_STREAM": name,
        "NATS_SUBJECT_PREFIX": name,
    }
    monitor = os.environ.get("CAIRN_NATS_MONITOR_URL")
    if monitor:
        env["NATS_MONITOR_URL"] = monitor
    return env


def delete_streams(factory: Factory) -> None:
    settings = factory.settings
    for stream in (settings.stream, settings.snapshot_stream):
        for name in (stream, records_stream(stream)):
            with contextlib.suppress(Exception):
                factory.client.api(f"STREAM.DELETE.{name}")


class StreamPerTest:
    """Mixin: one factory and one fresh stream per test, deleted in tearDown."""

    factory: Factory

    def setUp(self) -> None:
        self.stream_name = f"c{uuid.uuid4().hex[:12]}"
        self.factory = Factory(Environment(env=stream_env(self.stream_name)))
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        delete_streams(self.factory)
        self.factory.close()


class TestAggregateRecorder(StreamPerTest, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder()


class TestSnapshotRecorder(StreamPerTest, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder(purpose="snapshots")


class TestApplicationRecorder(
    StreamPerTest, ApplicationRecorderTestCase[JetStreamApplicationRecorder]
):
    def create_recorder(self) -> JetStreamApplicationRecorder:
        recorder = self.factory.application_recorder()
        assert isinstance(recorder, JetStreamApplicationRecorder)
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestNonInterleavingNotificationIDs(StreamPerTest, NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()


class TestTrackingRecorder(StreamPerTest, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.factory.tracking_recorder()


class TestProcessRecorder(StreamPerTest, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()


class CustomTrackingRecorder(JetStreamTrackingRecorder):
    pass


class TestFactory(InfrastructureFactoryTestCase[Factory]):
    def setUp(self) -> None:
        self.env = Environment("TestApp", stream_env(f"f{uuid.uuid4().hex[:12]}"))
        super().setUp()

    def tearDown(self) -> None:
        delete_streams(self.factory)
        super().tearDown()

    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return JetStreamAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return JetStreamApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return JetStreamTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return JetStreamProcessRecorder


# The abstract suites themselves must not be collected.
del AggregateRecorderTestCase, ApplicationRecorderTestCase, InfrastructureFactoryTestCase
del NonInterleavingNotificationIDsBaseCase, ProcessRecorderTestCase, TrackingRecorderTestCase
