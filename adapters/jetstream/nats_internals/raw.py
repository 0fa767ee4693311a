"""Writing protocol bytes to a nats-py connection, a subscription's sid, and a ``Msg`` made
from bytes read raw (private API of nats-py 2.x; see the package's docstring)."""

from __future__ import annotations

from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


async def write(nc: NatsConnection, data: bytes) -> None:
    """Queue protocol bytes on nats-py's connection and kick its flusher, as its own
    ``publish()`` does after encoding a message."""
    await nc._send_command(data)
    if nc._flush_queue is not None and nc._flush_queue.empty():
        await nc._flush_pending()


def sid_of(subscription: Subscription) -> int:
    """The sid the server delivers a subscription's messages with."""
    return subscription._id


def message(nc: NatsConnection, subject: str, data: bytes, headers: dict[str, str] | None) -> Msg:
    """A ``Msg`` of ``nc`` for a message read raw (its connection is the private field
    ``Msg._client``)."""
    return Msg(_client=nc, subject=subject, data=data, headers=headers)
