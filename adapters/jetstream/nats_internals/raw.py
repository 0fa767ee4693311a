"""Writing protocol bytes to a nats-py connection, a subscription's sid, and a ``Msg`` made
from bytes read raw (private API of nats-py 2.x; see the package's docstring).

Writes (``send``) go into nats-py's own pending buffer, so that they keep their order with
what nats-py queued before them (a ``SUB`` before the pull request it is for), and the buffer
is written to the transport once at the end of the loop pass, by a callback: nats-py's way
(``_send_command``, ``_flush_pending``, a future through an ``asyncio.Queue`` to its flusher
task, ``writelines`` and ``drain``) took four task steps and a future per write, and was
~10% of a run worker's interpreter time (decision 0066). While the connection is not up the
bytes stay pending, as nats-py leaves its own: it writes them after a reconnect, or drops
them on close.
"""

from __future__ import annotations

import asyncio
import weakref

from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


class _Writer:
    """The end-of-pass write of one connection (used on its loop only)."""

    __slots__ = ("__weakref__", "_nc", "_scheduled")

    def __init__(self, nc: NatsConnection) -> None:
        self._nc = nc
        self._scheduled = False

    def queue(self, data: bytes) -> None:
        nc = self._nc
        nc._pending.append(data)
        nc._pending_data_size += len(data)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def queue_and_flush(self, data: bytes) -> None:
        """Write ``data`` now, after what is pending (for a caller that gathered a pass's
        writes itself)."""
        nc = self._nc
        nc._pending.append(data)
        nc._pending_data_size += len(data)
        self.flush()

    def flush(self) -> None:
        """Write what is pending now (nats-py's flusher finds nothing left, or later bytes)."""
        self._scheduled = False
        nc = self._nc
        if not nc._pending or not nc.is_connected or nc._transport is None:
            return
        pending = nc._pending
        nc._pending = []
        nc._pending_data_size = 0
        try:
            nc._transport.writelines(pending)
        except Exception:
            # As nats-py's flusher would: the connection's error handling (reconnect) decides.
            nc._pending[:0] = pending
            nc._pending_data_size += sum(map(len, pending))
            if nc._flush_queue is not None and nc._flush_queue.empty():
                nc._flush_queue.put_nowait(asyncio.get_running_loop().create_future())


_writers: weakref.WeakKeyDictionary[NatsConnection, _Writer] = weakref.WeakKeyDictionary()


def writer_of(nc: NatsConnection) -> _Writer:
    found = _writers.get(nc)
    if found is None:
        found = _writers[nc] = _Writer(nc)
    return found


def send(nc: NatsConnection, data: bytes) -> None:
    """Queue protocol bytes on ``nc`` (on its loop): written with everything else queued in
    this loop pass, once it ends."""
    writer_of(nc).queue(data)


async def write(nc: NatsConnection, data: bytes) -> None:
    """``send`` for a coroutine."""
    writer_of(nc).queue(data)


def sid_of(subscription: Subscription) -> int:
    """The sid the server delivers a subscription's messages with."""
    return subscription._id


def message(nc: NatsConnection, subject: str, data: bytes, headers: dict[str, str] | None) -> Msg:
    """A ``Msg`` of ``nc`` for a message read raw (its connection is the private field
    ``Msg._client``)."""
    return Msg(_client=nc, subject=subject, data=data, headers=headers)
