"""On a real nats-server: with tracing on, each save is a `publish` span and every message it
stores carries that span as `traceparent` in its NATS headers, never in its payload; reads
hand it back on the notifications. With tracing off, nothing of it is written."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from opentelemetry.trace import SpanKind

from adapters.jetstream.locator import records_stream
from adapters.jetstream.recorders import JetStreamApplicationRecorder
from adapters.telemetry import tracing
from domain.event_context import EventContext
from tests.support.telemetry import traced

pytestmark = pytest.mark.integration


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


@pytest.fixture
def app_env(nats_url: str, unique_name: str) -> Iterator[dict[str, str]]:
    env = {
        "PERSISTENCE_MODULE": "adapters.jetstream",
        "NATS_URL": nats_url,
        "NATS_STREAM": unique_name,
        "NATS_SUBJECT_PREFIX": unique_name,
    }
    yield env
    cleanup = Application[UUID](env=env)
    recorder = cleanup.recorder
    assert isinstance(recorder, JetStreamApplicationRecorder)
    for name in (unique_name, records_stream(unique_name)):
        with contextlib.suppress(Exception):
            recorder.events.client.api(f"STREAM.DELETE.{name}")
    cleanup.close()


def _messages(app: Application[UUID], stream: str) -> list[tuple[dict[str, str], bytes]]:
    recorder = app.recorder
    assert isinstance(recorder, JetStreamApplicationRecorder)
    client = recorder.events.client
    found = []
    for seq in range(1, (app.recorder.max_notification_id() or 0) + 1):
        msg = client.direct_get(stream, {"seq": seq})
        if msg is not None and msg.headers is not None:
            found.append((dict(msg.headers), msg.data))
    return found


def test_saves_carry_their_publish_span_in_headers_only(
    app_env: dict[str, str], unique_name: str
) -> None:
    context = EventContext(tenant="acme", actor="user-1", correlation_id="corr-7")
    with traced() as captured:
        app = Application[UUID](env=app_env)
        with tracing.tracer("test").start_as_current_span("POST /v1/notes") as request:
            note = Note("first")
            note.edit("second")
            app.save(note, context=context)
        notifications = app.recorder.select_notifications(1, 10)
        stored = _messages(app, unique_name)
        app.close()
    (publish,) = [s for s in captured.named("publish ") if s.name == f"publish {unique_name}"]
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent is not None
    assert publish.parent.span_id == request.get_span_context().span_id
    attributes = dict(publish.attributes or {})
    assert attributes["messaging.system"] == "nats"
    assert attributes["messaging.operation.type"] == "send"
    assert attributes["messaging.batch.message_count"] == 2
    expected = f"00-{publish.context.trace_id:032x}-{publish.context.span_id:016x}-"
    assert len(stored) == 2
    for headers, data in stored:
        assert headers["traceparent"].startswith(expected)
        assert headers["Cairn-Correlation-Id"] == "corr-7"
        assert (
            b"traceparent" not in data and f"{publish.context.trace_id:032x}".encode() not in data
        )
    assert [tracing.carried(n) for n in notifications] == [publish.context] * 2 or all(
        (c := tracing.carried(n)) is not None and c.span_id == publish.context.span_id
        for n in notifications
    )


def test_with_tracing_off_no_trace_header_is_written(
    app_env: dict[str, str], unique_name: str
) -> None:
    app = Application[UUID](env=app_env)
    app.save(Note("plain"), context=EventContext(tenant="acme", actor="user-1"))
    (headers, _), *_ = _messages(app, unique_name)
    notifications = app.recorder.select_notifications(1, 10)
    app.close()
    assert "traceparent" not in headers and "tracestate" not in headers
    assert [tracing.carried(n) for n in notifications] == [None]
