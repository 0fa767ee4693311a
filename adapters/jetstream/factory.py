"""``PERSISTENCE_MODULE=adapters.jetstream``: the library's infrastructure factory on JetStream."""

from __future__ import annotations

import threading

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic

from adapters.jetstream.client import NatsClient
from adapters.jetstream.recorders import (
    EventStream,
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamTrackingRecorder,
)
from adapters.jetstream.settings import JetStreamSettings
from adapters.jetstream.stream import check_server, ensure_event_streams, signal_subject


class Factory(InfrastructureFactory[JetStreamTrackingRecorder]):
    """Connects once (and checks the server) when constructed; each stream is created or
    verified when its first recorder is made."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.settings = JetStreamSettings.from_env(self.env)
        self.client = NatsClient(
            self.settings.url,
            name=f"cairn-{self.env.name or 'eventstore'}",
            connect_timeout=self.settings.connect_timeout,
            request_timeout=self.settings.request_timeout,
            group_commit=self.settings.group_commit,
            batch_linger=self.settings.batch_linger,
        )
        try:
            check_server(self.client, self.settings)
        except BaseException:
            self.client.close()
            raise
        self._lock = threading.Lock()
        self._events: EventStream | None = None
        self._snapshots: EventStream | None = None

    def events_stream(self) -> EventStream:
        with self._lock:
            if self._events is None:
                s = self.settings
                complete = ensure_event_streams(self.client, s.stream, s.subject_prefix, s)
                signals = signal_subject(s.stream)
                self.client.appends.signal_stored(s.stream, signals)
                self._events = EventStream(
                    self.client,
                    s.stream,
                    s.subject_prefix,
                    records_complete=complete,
                    signal_subject=signals,
                )
            return self._events

    def snapshots_stream(self) -> EventStream:
        events = self.events_stream()
        with self._lock:
            if self._snapshots is None:
                s = self.settings
                complete = ensure_event_streams(
                    self.client, s.snapshot_stream, s.snapshot_prefix, s
                )
                self._snapshots = EventStream(
                    self.client,
                    s.snapshot_stream,
                    s.snapshot_prefix,
                    records_complete=complete,
                    snapshots_of=events,
                )
            return self._snapshots

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        if purpose == "snapshots":
            return JetStreamAggregateRecorder(self.snapshots_stream())
        return JetStreamAggregateRecorder(self.events_stream())

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls: type[JetStreamApplicationRecorder] = (
            resolve_topic(topic) if topic else JetStreamApplicationRecorder
        )
        return cls(self.events_stream())

    def tracking_recorder(
        self, tracking_recorder_class: type[JetStreamTrackingRecorder] | None = None
    ) -> JetStreamTrackingRecorder:
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = resolve_topic(topic) if topic else JetStreamTrackingRecorder
        assert tracking_recorder_class is not None
        return tracking_recorder_class(self.events_stream())

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        cls: type[JetStreamProcessRecorder] = (
            resolve_topic(topic) if topic else JetStreamProcessRecorder
        )
        return cls(self.events_stream())

    def close(self) -> None:
        self.client.close()
        super().close()
