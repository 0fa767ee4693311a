"""Synced calendar events become knowledge, end to end with the Google-shaped fake: an event
with the attendee "Sarah Lee <sarah@smile.example>" synced from the calendar makes the
worker's learner record Sarah as a person with that address and the appointment (no model),
found by `GET /v1/context/search`; a redelivered event adds nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.integrations.providers import MemoryOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.postgres.timers import PostgresTimers
from commands.context.calendar_learning import calendar_memory_id
from commands.settings import CairnSettings
from tests.e2e.context.helpers import (
    eventually,
    first_entity,
    redelivery_teaches_nothing,
    search,
)
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

    sarah = eventually(lambda: first_entity(cairn, ada, "Sarah"))
    assert sarah["name"] == "Sarah Lee" and sarah["kind"] == "person"
    facts = {(f["predicate"], f["value"]) for f in sarah["facts"]}
    appointment = "Dental check-up at 2026-12-07T10:00:00+00:00"
    assert {("email", "sarah@smile.example"), ("appointment", appointment)} <= facts
    assert not [h for h in search(cairn, ada, "ada@home.example") if h["kind"] == "entity"]

    # A redelivered CalendarEventSynced teaches nothing more.
    feed: Any = feeds.app.repository.get(feed_id)
    memory_id = calendar_memory_id(tenant, feed_id, event_id, feed.items[event_id])
    redelivery_teaches_nothing(cairn, feeds.app, feed_id, "CalendarEventSynced", memory_id)
