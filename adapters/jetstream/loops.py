"""The event loop of every thread and process that runs a NATS client: uvloop's (decision 0055).

A NATS client's loop does little but hand bytes between threads and a socket: callers in
worker threads hand it requests (``call_soon_threadsafe``), it writes them to the connection
and wakes the callers with the replies. In asyncio's loop each hand-off from another thread
writes a byte to the loop's self-pipe (a syscall per call, even while a wake is pending) and
each socket write or read goes through Python-level selector and transport code; uvloop does
both in C, and coalesces wakes (libuv's ``uv_async_send`` signals once while one is pending).
Its transports are asyncio's interface, so nats-py's streams (and the hooks of
``nats_internals``, which wrap nats-py's parser, not the transport) work unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for a thread that runs NATS clients."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a loop of ``new_event_loop``."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
