"""The library's recorder interfaces on a JetStream stream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    ProcessRecorder,
    ProgrammingError,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

from adapters.jetstream import headers as h
from adapters.jetstream.client import NatsClient
from adapters.jetstream.errors import JetStreamApiError
from adapters.jetstream.following import Following
from adapters.jetstream.positions import PositionIndex
from adapters.jetstream.reader import StreamReader
from adapters.jetstream.subscription import JetStreamSubscription
from adapters.jetstream.writer import StreamWriter
from domain.event_context import EventContext

logger = logging.getLogger("cairn.eventstore")


class EventStream:
    """Reader and writer of one stream, shared by the recorders a factory makes for it."""

    def __init__(
        self,
        client: NatsClient,
        stream: str,
        prefix: str,
        *,
        records_complete: bool,
        signal_subject: str | None = None,
        snapshots_of: EventStream | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.prefix = prefix
        self.signal_subject = signal_subject
        anchors = snapshots_of.reader.index if snapshots_of is not None else None
        self.reader: StreamReader = StreamReader(
            client, stream, prefix, PositionIndex(), anchors, records_complete=records_complete
        )
        self.writer = StreamWriter(
            client,
            self.reader,
            PositionIndex(max_entries=10_000),
            snapshots_of.reader if snapshots_of is not None else None,
        )


def _context(kwargs: dict[str, Any]) -> EventContext | None:
    """The event context a save passed on (``app.save(..., context=...)``); a wrong type is a
    programming error, refused rather than recorded as the system's."""
    context = kwargs.get("context")
    if context is not None and not isinstance(context, EventContext):
        raise ProgrammingError(f"context must be an EventContext, not {type(context).__name__}")
    return context


class JetStreamRecorder:
    def __init__(self, events: EventStream) -> None:
        self.events = events


class JetStreamAggregateRecorder(JetStreamRecorder, AggregateRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.events.writer.insert(stored_events, context=_context(kwargs))
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.events.reader.select_events(
            originator_id, gt=gt, lte=lte, desc=desc, limit=limit
        )

    def last_known_version(self, originator_id: UUID | str) -> int | None:
        """The last version of the aggregate this process stored or read, if it knows one."""
        position = self.events.reader.index.last(h.id_token(originator_id))
        return position.version if position is not None else None

    def without_events(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates have no events now (the port ``FindsAbsent``), from one
        request whatever their number; the others are loaded as usual."""
        keys = {h.id_token(originator_id): originator_id for originator_id in originator_ids}
        absent = self.events.reader.locator.without_records(list(keys))
        return {keys[key] for key in absent}

    def observe_event_subject(self, subject: str) -> None:
        """Told the subject of a stored event of this stream (a consumer's delivery)."""
        self.events.reader.locator.observe_event_subject(subject)


class JetStreamApplicationRecorder(JetStreamAggregateRecorder, ApplicationRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self.events.writer.insert(stored_events, context=_context(kwargs))

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self.events.reader.select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )

    def max_notification_id(self) -> int | None:
        return self.events.reader.max_notification_id()

    def subscribe(
        self,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        into: Callable[[Sequence[Notification]], None] | None = None,
    ) -> Subscription[ApplicationRecorder]:
        """The library's subscription; with ``into``, pages are handed to it as they are read
        (on the client's loop, from a consumer, decision 0058; on the subscription's thread
        where no consumer can be made) and the subscription yields nothing."""
        signals = self.events.signal_subject
        if signals is None:
            raise NotImplementedError("this stream has no post-commit signals to subscribe to")
        if into is not None:
            try:
                return Following(self, self.events.client, into, gt=gt, topics=topics)
            except JetStreamApiError as error:  # refused (limits, permissions): as before
                logger.warning("following %s without a consumer (%s)", self.events.stream, error)
        return JetStreamSubscription(
            self, self.events.client, signals, gt=gt, topics=topics, into=into
        )


class JetStreamTrackingRecorder(JetStreamRecorder, TrackingRecorder):
    def insert_tracking(self, tracking: Tracking) -> None:
        self.events.writer.insert([], tracking=tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        subject = self.events.writer.tracking_subject(application_name)
        msg = self.events.reader.last_message(subject)
        if msg is None:
            return None
        return int((msg.headers or {})[h.NOTIFICATION_ID])


class JetStreamProcessRecorder(
    JetStreamTrackingRecorder, JetStreamApplicationRecorder, ProcessRecorder
):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        return self.events.writer.insert(stored_events, tracking=tracking, context=_context(kwargs))
