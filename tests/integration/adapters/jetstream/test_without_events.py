"""Which of several aggregates have no events, from one request (``multi_last`` on the records
stream, decision 0051): what a decision asks of the person's and the household's policies."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from adapters.jetstream import Factory, JetStreamApplicationRecorder
from adapters.jetstream.client import NatsClient
from adapters.jetstream.locator import records_stream
from tests.integration.adapters.jetstream.conftest import stream_env

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


def requests_of(client: NatsClient) -> list[tuple[str, dict[str, Any]]]:
    """(stream, body) of every direct get, single or batched, the client sends from now on."""
    sent: list[tuple[str, dict[str, Any]]] = []
    direct_get, request_page = client.direct_get, client.request_page

    def spied_get(stream: str, body: Any) -> Any:
        sent.append((stream, dict(body)))
        return direct_get(stream, body)

    def spied_page(stream: str, body: Any, decode: Any) -> Any:
        sent.append((stream, dict(body)))
        return request_page(stream, body, decode)

    client.direct_get = spied_get  # type: ignore[method-assign]
    client.request_page = spied_page  # type: ignore[method-assign]
    return sent


@pytest.fixture
def make_app(
    nats_url: str, nats_monitor_url: str, unique_name: str, make_factory: FactoryMaker
) -> Iterator[Callable[[], App]]:
    """Applications on this test's stream, each with its own connection (its streams are
    deleted by ``make_factory``'s)."""
    make_factory()
    made: list[App] = []

    def make() -> App:
        app = Application[uuid.UUID](env=stream_env(nats_url, nats_monitor_url, unique_name))
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


App = Application[uuid.UUID]


def parts(app: App) -> tuple[JetStreamApplicationRecorder, Factory]:
    recorder, factory = app.recorder, app.factory
    assert isinstance(recorder, JetStreamApplicationRecorder) and isinstance(factory, Factory)
    return recorder, factory


def test_the_absent_are_found_in_one_request_and_the_present_learnt(
    make_app: Callable[[], App],
) -> None:
    writer, reader = make_app(), make_app()
    stored = [Note("a"), Note("b")]
    writer.save(*stored)
    recorder, factory = parts(reader)
    missing = [uuid.uuid4() for _ in range(3)]
    sent = requests_of(factory.client)

    absent = recorder.without_events([stored[0].id, missing[0], stored[1].id, *missing[1:]])

    assert absent == set(missing)
    assert len(sent) == 1
    stream, body = sent[0]
    assert stream == records_stream(factory.settings.stream)
    assert len(body["multi_last"]) == 5
    # What the records said is kept: loading the stored ones reads their events only.
    sent.clear()
    assert [reader.repository.get(note.id).text for note in stored] == ["a", "b"]
    assert [s for s, _ in sent] == [factory.settings.stream] * 2
    # Known ones are not asked about again; nothing at all when all are known.
    sent.clear()
    assert recorder.without_events([note.id for note in stored]) == set()
    assert sent == []


def test_an_absence_is_not_remembered(make_app: Callable[[], App]) -> None:
    writer, reader = make_app(), make_app()
    recorder, _ = parts(reader)
    note = Note("later")
    assert recorder.without_events([note.id]) == {note.id}
    writer.save(note)
    assert recorder.without_events([note.id]) == set()
