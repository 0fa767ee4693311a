"""Synced calendar events become knowledge, end to end with the Google-shaped fake: an event
with the attendee "Sarah Lee <sarah@smile.example>" synced from the calendar makes the
worker's learner record Sarah as a person with that address and the appointment (no model),
found by `GET /v1/context/search`; a redelivered event adds nothing."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.integrations.providers import MemoryOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.postgres.timers import PostgresTimers
from commands.context.calendar_learning import calendar_memory_id
from commands.settings import CairnSettings
from tests.e2e.context.helpers import entity, search
from tests.support.connection_tokens import FixedTokens
from tests.support.fake_google import FakeGoogle
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e

TOKEN = "ya29.calendar-knowledge-8d2e"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    fake = FakeGoogle({TOKEN}, deliver=lambda *_: None)  # no push: the test fires the sync
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def cairn_settings(cairn_settings: CairnSettings, google: FakeGoogle) -> CairnSettings:
    return dataclasses.replace(
        cairn_settings,
        webhook_base_url="http://testserver",
        provider_urls={**cairn_settings.provider_urls, "google": google.base_url},
    )


def _eventually(found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail("not within 30 s")


def _sarah(cairn: Cairn, ada: Any) -> dict[str, Any] | None:
    hits = [h for h in search(cairn, ada, "Sarah") if h["kind"] == "entity"]
    return entity(cairn, ada, hits[0]["id"]) if hits else None


def test_a_synced_calendar_event_teaches_its_attendees_once(
    cairn: Cairn, cairn_settings: CairnSettings, google: FakeGoogle
) -> None:
    ada = cairn.sign_up("ctxcal")
    tenant, person = ada.session["tenant_id"], ada.session["user_id"]
    feeds = cairn.services.feeds
    routed = connected_providers(
        {"google": google.base_url}, FixedTokens({"google": [TOKEN]}), MemoryOutbox()
    )
    feeds.apis = routed.feeds
    attendees = (
        {"email": "ada@home.example", "self": True},
        {"email": "sarah@smile.example", "displayName": "Sarah Lee"},
    )
    event_id = google.add_event(
        "Dental check-up", "2026-12-07T10:00:00Z", "2026-12-07T10:30:00Z", attendees
    )
    feed_id = feeds.watch(tenant, person, "google")
    PostgresTimers(cairn.services.pool).fire_due(feeds.clock(), feeds.on_timer)  # or the worker

    sarah = _eventually(lambda: _sarah(cairn, ada))
    assert sarah["name"] == "Sarah Lee" and sarah["kind"] == "person"
    facts = {(f["predicate"], f["value"]) for f in sarah["facts"]}
    appointment = "Dental check-up at 2026-12-07T10:00:00+00:00"
    assert {("email", "sarah@smile.example"), ("appointment", appointment)} <= facts
    assert not [h for h in search(cairn, ada, "ada@home.example") if h["kind"] == "entity"]

    # A redelivered CalendarEventSynced teaches nothing more.
    stored = feeds.app.recorder.select_events(feed_id)
    synced = [e for e in stored if e.topic.endswith("CalendarEventSynced")]
    assert len(synced) == 1
    feed: Any = feeds.app.repository.get(feed_id)
    memory_id = calendar_memory_id(tenant, feed_id, event_id, feed.items[event_id])
    recorder = cairn.services.context.app.recorder
    before = recorder.max_notification_id()
    assert len(recorder.select_events(memory_id)) == 2  # noted, and what it taught
    assert cairn.worker is not None
    learning = cairn.worker.learning
    assert learning.learn("CalendarEventSynced", feed_id, synced[0].originator_version) is None
    assert recorder.max_notification_id() == before
