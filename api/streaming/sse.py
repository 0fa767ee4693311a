"""The Server-Sent Events response of a push subscription."""

from __future__ import annotations

import time
from contextlib import aclosing, suppress

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.streaming import wire
from api.streaming.tracing import PushSpans
from commands.ports.push import Subscription


class EventStreamResponse(Response):
    """Sends the session's frames as they come, and ends the subscription as soon as the client
    goes away (not at the next write). Frames are sent straight from the session's generator:
    every wrapping generator would be crossed by each wake-up of each subscriber."""

    media_type = "text/event-stream"

    def __init__(self, session: Subscription) -> None:
        self.session = session
        self.status_code = 200
        self.background = None
        self.init_headers(
            {
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # proxies must not buffer a stream
                "Referrer-Policy": "no-referrer",  # the URL may hold an access token
            }
        )

    async def _respond(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        await send(start)
        await send({"type": "http.response.body", "body": wire.SSE_PREAMBLE, "more_body": True})
        spans = PushSpans("sse")
        async with aclosing(self.session.frames()) as frames:
            async for frame in frames:
                body = wire.sse(frame)
                started = time.time_ns()
                await send({"type": "http.response.body", "body": body, "more_body": True})
                spans.sent(frame, started)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def respond() -> None:
                    with suppress(OSError):
                        await self._respond(send)
                    group.cancel_scope.cancel()

                group.start_soon(respond)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()
        finally:
            self.session.close()
