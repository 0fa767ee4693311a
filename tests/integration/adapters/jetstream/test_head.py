"""The stream's last position as its leader has it: what a query's `?after=` is checked
against (adapters/jetstream/head.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from adapters.jetstream.head import HEAD_WAIT_S, last_position_of
from tests.integration.adapters.jetstream.conftest import FactoryMaker, stream_env

pytestmark = pytest.mark.integration

App = Application[uuid.UUID]


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


@pytest.fixture
def make_app(
    nats_url: str, nats_monitor_url: str, unique_name: str, make_factory: FactoryMaker
) -> Iterator[Callable[[], App]]:
    make_factory()  # deletes this test's streams after it
    made: list[App] = []

    def make() -> App:
        app = App(env=stream_env(nats_url, nats_monitor_url, unique_name))
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def test_the_last_position_is_where_the_last_save_was_stored(make_app: Callable[[], App]) -> None:
    app = make_app()
    last_position = last_position_of(app.recorder)
    assert last_position() == 0  # nothing stored yet
    first = app.save(Note("a"))[-1].notification.id
    assert last_position() == first
    later = app.save(Note("b"), Note("c"))[-1].notification.id
    assert later > first
    assert last_position() == later
    # What another process stored is there too: the leader is asked, nothing is cached.
    other = make_app()
    latest = other.save(Note("d"))[-1].notification.id
    assert last_position() == latest


def test_a_missing_stream_is_at_zero_and_a_closed_store_cannot_tell(
    make_app: Callable[[], App], unique_name: str
) -> None:
    app = make_app()
    app.save(Note("a"))
    last_position = last_position_of(app.recorder)
    assert last_position() is not None and last_position() > 0  # type: ignore[operator]
    app.factory.client.api(f"STREAM.DELETE.{unique_name}")  # type: ignore[attr-defined]
    assert last_position() == 0
    app.close()
    assert last_position() is None  # unreachable: the view's wait decides


def test_a_store_other_than_jetstream_cannot_tell() -> None:
    popo = Application[uuid.UUID]()
    popo.save(Note("a"))
    assert last_position_of(popo.recorder)() is None


def test_a_server_that_does_not_answer_cannot_tell_long_before_the_request_timeout(
    private_nats: Callable[..., Any], unique_name: str
) -> None:
    server = private_nats()
    # Every other request of this connection waits 30 s for its answer.
    env = stream_env(server.url, server.monitor_url, unique_name, NATS_REQUEST_TIMEOUT="30")
    app = App(env=env)
    app.save(Note("a"))
    last_position = last_position_of(app.recorder)
    assert last_position() == 1
    server.freeze()  # the connection stays up, nothing answers
    try:
        asked = time.monotonic()
        assert last_position() is None  # the view's wait decides, as for a store that is down
        waited = time.monotonic() - asked
    finally:
        server.thaw()
    assert HEAD_WAIT_S <= waited < 10  # its own bound, not the connection's 30 s
    try:
        assert last_position() == 1  # answered again once the server is back
    finally:
        app.close()
