"""How frames look on the wire: Server-Sent Events and WebSocket text messages (same JSON)."""

from __future__ import annotations

import json
from typing import Any

from commands.ports.push import Frame

# Sent first: how long a browser's EventSource waits before reconnecting, and a comment that
# makes the response start at once (before a possibly long catch-up).
SSE_PREAMBLE = b"retry: 2000\n: connected\n\n"

# WebSocket close codes: 4000 + the HTTP status the same problem has on other routes
# (4400 bad request, 4401 not authenticated, 4403 forbidden, 4409 resync required,
# 4503 unavailable or shutting down).
CLOSE_BASE = 4000


def control(frame: Frame) -> dict[str, Any]:
    body: dict[str, Any] = {"type": frame.kind, "position": frame.position}
    if frame.error:
        body["error"] = dict(frame.error)
    return body


def _compact(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), default=str)


def sse(frame: Frame) -> bytes:
    events = frame.events
    if len(events) == 1:  # most frames: one event, its shared bytes as they are
        return events[0].sse()
    if events:
        return b"".join(event.sse() for event in events)
    if frame.kind == "heartbeat":
        return f": heartbeat {frame.position}\n\n".encode()
    data = _compact(control(frame))
    if frame.kind == "ready":
        # `id:` moves the client's Last-Event-ID to the caught-up position even when no event
        # of its own followed, so a reconnect does not re-read what was already examined.
        return f"id: {frame.position}\nevent: ready\ndata: {data}\n\n".encode()
    return f"event: {frame.kind}\ndata: {data}\n\n".encode()


def ws_texts(frame: Frame) -> list[str]:
    """One WebSocket text message per event (or the control message)."""
    if frame.events:
        return [event.json() for event in frame.events]
    return [_compact(control(frame))]


def ws_close_code(frame: Frame) -> int | None:
    """The close code after this frame, or None if the stream goes on."""
    if frame.kind in ("resync_required", "closed"):
        return CLOSE_BASE + (frame.status or 503)
    return None
