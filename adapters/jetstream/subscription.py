"""``subscribe()``: catch up with direct get, then follow post-commit signals.

Every Cairn writer announces each batch it stored (after JetStream acknowledged it) on
``_cairn_stored.<stream>`` (decision 0005). A subscription listens there only to wake up;
what it yields is always read from the stream in order with ``select_notifications``, through
the library's bounded queue (so a slow reader never makes it buffer without limit). Signals
lost (while disconnected, or a writer that died between its ack and its signal) are made up
for by a poll every second, and an outage only pauses it.

A signal carries the last sequence of the batch it announces. A pull often reads a batch
whose signal has not arrived yet (it was stored after the signal that woke the pull); that
signal then wakes nothing: every sequence up to the last notification read has been read.
Skipping it never loses an event, since each pull starts after the last notification read,
whatever woke it (decision 0052).

With ``into``, each page read is handed to that callable on the pulling thread instead of
going through the library's queue to the thread iterating the subscription (which then
yields nothing, and ends as the subscription does): one thread wake-up less per read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING

from eventsourcing.persistence import ListenNotifySubscription, Notification
from nats.aio.msg import Msg

from adapters.jetstream.client import NatsClient
from adapters.jetstream.errors import EventStoreUnavailable

if TYPE_CHECKING:
    from nats.aio.subscription import Subscription as NatsSubscription

    from adapters.jetstream.recorders import JetStreamApplicationRecorder

logger = logging.getLogger("cairn.eventstore")

POLL_INTERVAL = 1.0


def _read_already(payload: bytes, last_read: int | None) -> bool:
    """Whether the batch a signal announces (its last sequence) was read by an earlier pull."""
    if last_read is None or not payload.isdigit():
        return False
    return int(payload) <= last_read


class JetStreamSubscription(ListenNotifySubscription["JetStreamApplicationRecorder"]):
    def __init__(
        self,
        recorder: JetStreamApplicationRecorder,
        client: NatsClient,
        signal_subject: str,
        gt: int | None = None,
        topics: Sequence[str] = (),
        into: Callable[[Sequence[Notification]], None] | None = None,
    ) -> None:
        self._client = client
        self._into = into  # set before the library's pulling thread starts
        self._nats_sub: NatsSubscription | None = None
        self._poller: asyncio.Task[None] | None = None
        # Listen before the first pull: anything stored after it started is signalled.
        client.call(self._listen(signal_subject))
        super().__init__(recorder=recorder, gt=gt, topics=topics)

    async def _listen(self, subject: str) -> None:
        self._nats_sub = await self._client.nc.subscribe(subject, cb=self._on_signal)
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    def _wake(self) -> None:
        event = getattr(self, "_has_been_notified", None)  # absent until the pull starts
        if event is not None:
            event.set()

    async def _on_signal(self, msg: Msg) -> None:
        if not _read_already(msg.data, self._last_notification_id):
            self._wake()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            self._wake()

    def _pull(self) -> None:
        try:
            if self._into is None:
                super()._pull()
            else:
                self._pull_into(self._into)
        except EventStoreUnavailable as e:
            logger.warning("subscription paused, NATS unavailable (%s); will retry", e)

    def _pull_into(self, into: Callable[[Sequence[Notification]], None]) -> None:
        """The library's ``_pull``, each page handed to ``into`` rather than queued."""
        while not self._has_been_stopped:
            self._has_been_notified.clear()
            page = self._recorder.select_notifications(
                start=self._last_notification_id or 0,
                limit=self._select_limit,
                topics=self._topics,
                inclusive_of_start=False,
            )
            if page:
                into(page)
                self._last_notification_id = page[-1].id
            if len(page) < self._select_limit:
                break

    def stop(self) -> None:
        super().stop()
        with suppress(RuntimeError):  # the client's loop may already be closed
            self._client.loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        sub, self._nats_sub = self._nats_sub, None
        if sub is not None:

            async def unsubscribe() -> None:
                with suppress(Exception):
                    await sub.unsubscribe()

            asyncio.get_running_loop().create_task(unsubscribe())
