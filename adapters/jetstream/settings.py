"""Settings of the JetStream event store, read from the application's environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from eventsourcing.persistence import InfrastructureFactoryError
from eventsourcing.utils import Environment, strtobool

from adapters.jetstream.queued import LONGEST_WAIT

NATS_URL = "NATS_URL"
NATS_STREAM = "NATS_STREAM"
NATS_SUBJECT_PREFIX = "NATS_SUBJECT_PREFIX"
NATS_REPLICAS = "NATS_REPLICAS"
NATS_DUPLICATE_WINDOW = "NATS_DUPLICATE_WINDOW"
NATS_MONITOR_URL = "NATS_MONITOR_URL"
NATS_REQUEST_TIMEOUT = "NATS_REQUEST_TIMEOUT"
NATS_CONNECT_TIMEOUT = "NATS_CONNECT_TIMEOUT"
# Combine concurrent saves (on disjoint aggregates) into one atomic batch; each save stays
# all or nothing. "no": one atomic batch per save.
NATS_GROUP_COMMIT = "NATS_GROUP_COMMIT"
# Seconds a group that must go as one atomic batch waits for other saves to share it, only
# while saves arrive faster than that (decision 0072). "0": never waits.
NATS_BATCH_LINGER = "NATS_BATCH_LINGER"
# Lets a stream or a server that can lose acknowledged events through (with a loud warning).
NATS_UNSAFE_ACCEPT_EVENT_LOSS = "NATS_UNSAFE_ACCEPT_EVENT_LOSS"
CREATE_TABLE = "CREATE_TABLE"  # the library's setting: create the stream if it is missing

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64})*")


@dataclass(frozen=True)
class JetStreamSettings:
    url: str
    stream: str = "cairn_events"
    subject_prefix: str = "cairn"
    replicas: int = 1
    duplicate_window: float = 120.0
    monitor_url: str | None = None
    unsafe_accept_event_loss: bool = False
    create_stream: bool = True
    request_timeout: float = 5.0
    connect_timeout: float = 5.0
    group_commit: bool = True
    batch_linger: float = 0.010

    @property
    def snapshot_stream(self) -> str:
        return f"{self.stream}_snapshots"

    @property
    def snapshot_prefix(self) -> str:
        return f"{self.subject_prefix}_snapshots"

    @classmethod
    def from_env(cls, env: Environment) -> JetStreamSettings:
        url = env.get(NATS_URL) or os.environ.get("CAIRN_NATS_URL") or os.environ.get(NATS_URL)
        if not url:
            raise InfrastructureFactoryError(
                f"set {NATS_URL} (or CAIRN_NATS_URL) to the NATS server(s) of the event store"
            )
        monitor = (
            env.get(NATS_MONITOR_URL)
            or os.environ.get("CAIRN_NATS_MONITOR_URL")
            or os.environ.get(NATS_MONITOR_URL)
        )
        settings = cls(
            url=url,
            stream=env.get(NATS_STREAM) or cls.stream,
            subject_prefix=env.get(NATS_SUBJECT_PREFIX) or cls.subject_prefix,
            replicas=int(env.get(NATS_REPLICAS) or cls.replicas),
            duplicate_window=float(env.get(NATS_DUPLICATE_WINDOW) or cls.duplicate_window),
            monitor_url=monitor or None,
            unsafe_accept_event_loss=strtobool(env.get(NATS_UNSAFE_ACCEPT_EVENT_LOSS) or "no"),
            create_stream=strtobool(env.get(CREATE_TABLE) or "yes"),
            request_timeout=float(env.get(NATS_REQUEST_TIMEOUT) or cls.request_timeout),
            connect_timeout=float(env.get(NATS_CONNECT_TIMEOUT) or cls.connect_timeout),
            group_commit=strtobool(env.get(NATS_GROUP_COMMIT) or "yes"),
            batch_linger=float(env.get(NATS_BATCH_LINGER) or cls.batch_linger),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if not _NAME.fullmatch(self.stream):
            raise InfrastructureFactoryError(f"{NATS_STREAM} {self.stream!r} is not a valid name")
        if not _PREFIX.fullmatch(self.subject_prefix) or self.subject_prefix.startswith("$"):
            raise InfrastructureFactoryError(
                f"{NATS_SUBJECT_PREFIX} {self.subject_prefix!r} is not a valid subject prefix"
            )
        if self.replicas < 1 or self.replicas > 5:
            raise InfrastructureFactoryError(f"{NATS_REPLICAS} must be 1..5, not {self.replicas}")
        if self.duplicate_window <= 0:
            raise InfrastructureFactoryError(f"{NATS_DUPLICATE_WINDOW} must be positive")
        if not 0 <= self.batch_linger <= LONGEST_WAIT:
            raise InfrastructureFactoryError(
                f"{NATS_BATCH_LINGER} must be 0..{LONGEST_WAIT:g} seconds, not {self.batch_linger}"
            )
