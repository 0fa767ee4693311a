"""The event store's appends and reads with tracing on (chosen when a client or a reader is
made, so that with tracing off not even a check is added to the hot path).

An append is one PRODUCER span (``publish <stream>``, messaging semantic conventions) whose
context every message of the save carries as ``traceparent`` / ``tracestate`` NATS headers;
the event payloads are untouched. A read leaves each event's ``traceparent`` on the
notification made from it, for the projectors (``adapters.telemetry.tracing.carried``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from eventsourcing.persistence import Notification
from opentelemetry.trace import SpanKind, Status, StatusCode

from adapters.jetstream import replies
from adapters.jetstream.appends import GroupCommit
from adapters.jetstream.framing import Frame
from adapters.jetstream.notifications import Notifications
from adapters.telemetry import tracing

_TRACEPARENT: Final = replies.header_key(tracing.TRACEPARENT)
_CRLF: Final = b"\r\n"
_tracer = tracing.tracer("cairn.eventstore")


class TracedGroupCommit(GroupCommit):
    def append(
        self,
        stream: str,
        frames: Sequence[Frame],
        keys: frozenset[str],
        *,
        next_stream: str | None = None,
    ) -> dict[str, Any]:
        if not frames:
            return super().append(stream, frames, keys, next_stream=next_stream)
        attributes = tracing.messaging(
            "send",
            frames[-1][0].decode("utf-8", "replace"),
            **{
                "messaging.operation.name": "publish",
                "messaging.batch.message_count": len(frames) if len(frames) > 1 else None,
                "cairn.stream": stream,
            },
        )
        with _tracer.start_as_current_span(
            f"publish {stream}", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            lines = tracing.header_lines()
            if lines:
                frames = [
                    (subject, headers + lines, payload) for subject, headers, payload in frames
                ]
            ack = super().append(stream, frames, keys, next_stream=next_stream)
            error = ack.get("error")
            if error:
                span.set_status(Status(StatusCode.ERROR, str(error.get("description", ""))))
            elif "seq" in ack:
                span.set_attribute("cairn.stream.sequence", int(ack["seq"]))
            return ack


class TracedNotifications(Notifications):
    def decode(self, block: bytes, data: bytes, seq: int, subject: bytes) -> Notification | None:
        made = super().decode(block, data, seq, subject)
        if made is not None:
            start = block.rfind(_TRACEPARENT)
            if start >= 0:
                start += len(_TRACEPARENT)
                value = block[start : block.find(_CRLF, start)].strip()
                # A frozen dataclass: its __dict__ takes what its setattr refuses.
                made.__dict__[tracing.NOTIFICATION_ATTRIBUTE] = value.decode("ascii", "replace")
        return made
