"""Event store on NATS JetStream, as an eventsourcing persistence module.

Select it with ``PERSISTENCE_MODULE=adapters.jetstream``; see docs/event-store.md.
"""

from adapters.jetstream.errors import (
    BatchTooLarge,
    CommandAlreadyApplied,
    EventStoreOutcomeUnknown,
    EventStoreUnavailable,
    StreamConfigurationError,
)
from adapters.jetstream.factory import Factory
from adapters.jetstream.recorders import (
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamTrackingRecorder,
)
from adapters.jetstream.settings import JetStreamSettings

__all__ = [
    "BatchTooLarge",
    "CommandAlreadyApplied",
    "EventStoreOutcomeUnknown",
    "EventStoreUnavailable",
    "Factory",
    "JetStreamAggregateRecorder",
    "JetStreamApplicationRecorder",
    "JetStreamProcessRecorder",
    "JetStreamSettings",
    "JetStreamTrackingRecorder",
    "StreamConfigurationError",
]
