"""Following the stream with a live consumer: pages handed to a callable (decision 0058).

A subscription that hands pages to a callable (``into``, the projectors' shared reading of
decision 0041) follows the stream with one ephemeral pull consumer with bodies (``live``)
instead of post-commit signals and a batched direct get per read (decision 0005): the
events come with the deliveries, so no signal goes through nats-py's dispatch, no request
is written from another thread and no future wakes a pulling thread. The deliveries of one
wake-up of the client's loop are decoded into notifications (``Notifications.deliveries``,
as replays decode a consumer's pages) and handed to ``into`` as one page, on the loop.

The subscription yields nothing: iterating it waits until it stops, and raises what stopped
it (an event that cannot be decoded, a failing ``into``, a new consumer refused), so the
shared reading's fallback (each worker reads alone) is what it was. A consumer that cannot
be made at the start is the caller's to handle (``recorders``: signals and direct gets).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING

from eventsourcing.persistence import Notification, Subscription

from adapters.jetstream.client import NatsClient
from adapters.jetstream.live import LiveConsumer
from adapters.jetstream.notifications import Delivery

if TYPE_CHECKING:
    from adapters.jetstream.recorders import JetStreamApplicationRecorder

logger = logging.getLogger("cairn.eventstore")

Into = Callable[[Sequence[Notification]], None]


class Following(Subscription["JetStreamApplicationRecorder"]):
    """Every notification after ``gt``, in pages handed to ``into`` on the client's loop."""

    def __init__(
        self,
        recorder: JetStreamApplicationRecorder,
        client: NatsClient,
        into: Into,
        *,
        gt: int | None = None,
        topics: Sequence[str] = (),
        idle_heartbeat: float = 1.0,
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        events = recorder.events
        self._client = client
        self._decode = events.reader.notifications.deliveries
        self._into = into
        self._wanted = frozenset(topics)
        self._done = threading.Event()
        self._error: BaseException | None = None
        self.consumer = LiveConsumer(
            client.nc,
            events.stream,
            events.reader.all_filter,
            gt or 0,
            self._hand_over,
            self._fail,
            idle_heartbeat=idle_heartbeat,
        )
        # The first consumer is made here: one that cannot be made is the caller's to handle.
        try:
            client.call(self.consumer.start(), timeout=client.request_timeout + 5)
        except BaseException:
            self.stop()  # a start that ends after the caller gave up follows nothing
            raise

    def __next__(self) -> Notification:
        """Nothing is yielded (pages go to ``into``): waits until the subscription stops."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        raise StopIteration

    def stop(self) -> None:
        super().stop()
        self._done.set()
        with suppress(RuntimeError):  # the client's loop may already be closed
            self._client.loop.call_soon_threadsafe(self.consumer.close)

    # ---- on the client's loop --------------------------------------------------------------

    def _hand_over(self, deliveries: list[Delivery]) -> None:
        """One wake-up's deliveries, decoded and handed on as a page (never raises: it runs
        as a callback of the loop)."""
        if self._has_been_stopped:
            return
        page: list[Notification] = []
        failed: Exception | None = None
        for _, item in self._decode(deliveries):
            if item is None:
                continue  # an internal record (command marker, tracking)
            if isinstance(item, Exception):
                failed = item  # what precedes it is handed on; the reader stops at it
                break
            if not self._wanted or item.topic in self._wanted:
                page.append(item)
        try:
            if page:
                self._into(page)
                self._last_notification_id = page[-1].id
        except Exception as error:
            failed = failed or error
        if failed is not None:
            self._fail(failed)

    def _fail(self, error: BaseException) -> None:
        """Stop with ``error``: whoever iterates the subscription raises it."""
        logger.warning("following %s stopped: %r", self.consumer.stream, error)
        if self._error is None:
            self._error = error
        self.stop()
