"""Push notifications into Cairn's webhook routes, and the delta sync they ask for, with the
Google- and Graph-shaped APIs: a forged, replayed or wrong-channel notification changes nothing,
five copies of one notification cause one delta sync, an expired sync token leads to a full
resync whose facts equal the delta-synced ones, and channels are renewed before they expire.
Timers are fired by the test (as a worker would) so that each sync is counted."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from adapters.integrations.providers import MemoryOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.postgres.timers import PostgresTimers
from api.app import create_app
from api.settings import ServiceUrls
from commands.integrations.sync import RENEW, FeedSync
from commands.settings import CairnSettings
from domain.integrations.sync import CalendarFeed
from tests.support.connection_tokens import FixedTokens
from tests.support.fake_google import FakeGoogle
from tests.support.fake_graph import FakeGraph
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e

TOKEN = "ya29.webhook-canary-1c9d"  # a canary: in no event and no answer
GOOGLE_EVENTS = r"/calendar/v3/calendars/primary/events"
GRAPH_DELTA = r"/v1.0/me/calendarView/delta"


@dataclass
class World:
    client: TestClient
    feeds: FeedSync
    google: FakeGoogle
    graph: FakeGraph
    tenant: str
    person: str
    answers: list[Any]

    def fire_timers(self, at_offset: timedelta = timedelta(0)) -> int:
        """Fire what is due `at_offset` from now, with the feeds' clock moved there too."""
        timers = PostgresTimers(self.client.app.state.services.pool)  # type: ignore[attr-defined]
        real = self.feeds.clock
        self.feeds.clock = lambda: real() + at_offset
        try:
            return timers.fire_due(self.feeds.clock(), self.feeds.on_timer)
        finally:
            self.feeds.clock = real

    def facts(self, ident: uuid.UUID) -> dict[str, tuple[str, Any, Any]]:
        """The synced calendar as its events tell it: the view a context graph would build."""
        view: dict[str, tuple[str, Any, Any]] = {}
        app = self.feeds.app
        vault = self.client.app.state.services.identity.vault  # type: ignore[attr-defined]
        for stored in app.recorder.select_events(ident):
            event: Any = app.mapper.to_domain_event(stored)
            if type(event).__name__ == "CalendarEventSynced":
                title = vault.open_personal(self.tenant, event.sealed["title"], "calendar.title")
                view[event.item_id] = (str(title), event.fields["start"], event.fields["end"])
            elif type(event).__name__ == "CalendarEventRemoved":
                view.pop(event.item_id)
        return view

    def synced_events(self, ident: uuid.UUID) -> list[Any]:
        app = self.feeds.app
        return [app.mapper.to_domain_event(s) for s in app.recorder.select_events(ident)]


@pytest.fixture
def world(cairn_settings: CairnSettings) -> Iterator[World]:
    s = dataclasses.replace(cairn_settings, webhook_base_url="http://testserver")
    urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    google, graph = FakeGoogle({TOKEN}), FakeGraph({TOKEN})
    google.start()
    graph.start()
    answers: list[Any] = []
    with TestClient(create_app(urls, settings=s)) as client:

        def deliver_google(url: str, headers: dict[str, str], _body: Any) -> None:
            answers.append(client.post(urlsplit(url).path, headers=headers))

        def deliver_graph(url: str, body: Any) -> None:
            answers.append(client.post(urlsplit(url).path, json=body))

        def validate(url: str, challenge: str) -> str:
            echoed = client.post(urlsplit(url).path, params={"validationToken": challenge})
            return echoed.text if echoed.status_code == 200 else ""

        google.deliver, graph.deliver, graph.validate = deliver_google, deliver_graph, validate
        cairn = Cairn(client)
        ada = cairn.sign_up("feeds")
        services = cairn.services
        tokens = FixedTokens({"google": [TOKEN], "microsoft": [TOKEN]})
        provider_urls = {"google": google.base_url, "microsoft": graph.base_url}
        services.feeds.apis = connected_providers(provider_urls, tokens, MemoryOutbox()).feeds
        yield World(
            client,
            services.feeds,
            google,
            graph,
            ada.session["tenant_id"],
            ada.session["user_id"],
            answers,
        )
    google.stop()
    graph.stop()


def watched(world: World, provider: str) -> uuid.UUID:
    ident = world.feeds.watch(world.tenant, world.person, provider)
    if provider == "google":  # its "sync" handshake comes from another thread
        sent = world.google.sent_notifications
        world.google.wait_until(lambda: len(world.answers) >= len(sent) > 0)
    assert world.fire_timers() == 1  # the first (full) sync
    return ident


def delta_syncs(world: World, provider: str) -> int:
    if provider == "google":
        return world.google.calls("GET", GOOGLE_EVENTS)
    return world.graph.calls("GET", GRAPH_DELTA)


@pytest.mark.parametrize("which", ["google", "microsoft"])
def test_five_copies_of_a_notification_cause_one_delta_sync(world: World, which: str) -> None:
    fake = world.google if which == "google" else world.graph
    ident = watched(world, which)
    before = delta_syncs(world, which)
    world.answers.clear()
    added = fake.add_event("Dentist", "2026-12-02T09:00:00+00:00", "2026-12-02T10:00:00+00:00")
    fake.replay_last(4)
    outcomes = [a.json()["outcome"] for a in world.answers]
    assert outcomes == ["accepted"] + ["duplicate"] * 4
    assert world.fire_timers() == 1 and world.fire_timers() == 0
    assert delta_syncs(world, which) == before + 1
    assert world.facts(ident)[added][0] == "Dentist"
    notified = [e for e in world.synced_events(ident) if type(e).__name__ == "ChangeNotified"]
    assert len(notified) == 1


def test_forged_replayed_and_wrong_channel_google_notifications_change_nothing(
    world: World,
) -> None:
    ident = watched(world, "google")
    channel = next(iter(world.google.channels.values()))
    world.google.add_event("Standup", "2026-12-03T09:00:00+00:00", "2026-12-03T09:15:00+00:00")
    assert world.answers[-1].json()["outcome"] == "accepted"
    assert world.fire_timers() == 1
    events_before = len(world.synced_events(ident))
    headers = world.google.sent_notifications[-1][1]
    forged = {**headers, "X-Goog-Channel-Token": "guessed", "X-Goog-Message-Number": "99"}
    wrong_channel = {
        **headers,
        "X-Goog-Channel-ID": str(uuid.uuid4()),
        "X-Goog-Message-Number": "98",
    }
    wrong_resource = {**headers, "X-Goog-Resource-ID": "res-other", "X-Goog-Message-Number": "97"}
    no_token = {k: v for k, v in headers.items() if k != "X-Goog-Channel-Token"}
    path = "/v1/integrations/webhooks/google"
    for bad in (forged, wrong_channel, wrong_resource, {**no_token, "X-Goog-Message-Number": "96"}):
        answer = world.client.post(path, headers=bad)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "webhook_rejected"
        assert channel.token not in answer.text and TOKEN not in answer.text
    latin = {**headers, "X-Goog-Message-Number": "95"}
    latin["X-Goog-Resource-ID"] = "r\u00e9s".encode("latin-1")  # type: ignore[assignment]
    assert world.client.post(path, headers=latin).status_code == 403  # not a 500
    replayed = world.client.post(path, headers=headers)  # the genuine one, again
    assert replayed.status_code == 200 and replayed.json()["outcome"] == "duplicate"
    assert world.fire_timers() == 0
    assert len(world.synced_events(ident)) == events_before


def test_forged_and_replayed_graph_notifications_change_nothing(world: World) -> None:
    ident = watched(world, "microsoft")
    world.graph.add_event("Standup", "2026-12-03T09:00:00+00:00", "2026-12-03T09:15:00+00:00")
    assert world.fire_timers() == 1
    events_before = len(world.synced_events(ident))
    _, body = world.graph.sent_notifications[-1]
    path = "/v1/integrations/webhooks/microsoft"
    forged = {"value": [{**body["value"][0], "clientState": "guessed", "changeType": "deleted"}]}
    other = {"value": [{**body["value"][0], "subscriptionId": str(uuid.uuid4())}]}
    for bad in (forged, other):
        answer = world.client.post(path, json=bad)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "webhook_rejected"
    assert world.client.post(path, json=body).json()["outcome"] == "duplicate"
    assert world.client.post(path, content=b"not json").status_code == 400
    assert world.fire_timers() == 0
    assert len(world.synced_events(ident)) == events_before


@pytest.mark.parametrize("which", ["google", "microsoft"])
def test_an_expired_sync_token_leads_to_a_full_resync_with_identical_facts(
    world: World, which: str
) -> None:
    fake = world.google if which == "google" else world.graph
    first = fake.add_event("Lunch", "2026-12-04T12:00:00+00:00", "2026-12-04T13:00:00+00:00")
    second = fake.add_event("Gym", "2026-12-04T18:00:00+00:00", "2026-12-04T19:00:00+00:00")
    ident = watched(world, which)
    fake.change_event(second, **({"summary": "Gym!"} if which == "google" else {"subject": "Gym!"}))
    assert world.fire_timers() == 1
    delta_view = world.facts(ident)
    assert {k: v[0] for k, v in delta_view.items()} == {first: "Lunch", second: "Gym!"}
    synced_before = len(world.synced_events(ident))

    if which == "google":
        world.google.expire_sync_tokens()
        world.google.notify("exists")
    else:
        world.graph.expire_delta_links()
        world.graph.notify("updated", first)
    assert world.fire_timers() == 1
    names = [type(e).__name__ for e in world.synced_events(ident)[synced_before:]]
    # One notification, one resync marker, and no fact repeated.
    assert names == ["ChangeNotified", "FullResyncStarted"]
    assert world.facts(ident) == delta_view


@pytest.mark.parametrize("which", ["google", "microsoft"])
def test_channels_are_renewed_before_they_expire(world: World, which: str) -> None:
    ident = watched(world, which)
    feed: CalendarFeed = world.feeds.app.repository.get(ident)
    old = feed.channel_id
    assert feed.channel_expires_at is not None
    # Not yet: the renewal is due half a day before the channel ends.
    assert world.fire_timers(timedelta(days=2)) == 0
    assert world.fire_timers(world.feeds.channel_ttl - timedelta(hours=11)) == 1
    renewed: CalendarFeed = world.feeds.app.repository.get(ident)
    assert renewed.channel_expires_at > feed.channel_expires_at  # type: ignore[operator]
    if which == "google":
        assert renewed.channel_id != old and world.google.channels[str(old)].stopped
        sent = world.google.sent_notifications  # the new channel's handshake, then clear
        world.google.wait_until(lambda: len(world.answers) >= len(sent))
        world.answers.clear()
        world.google.add_event("After", "2026-12-05T09:00:00+00:00", "2026-12-05T10:00:00+00:00")
        assert [a.json()["outcome"] for a in world.answers] == ["accepted"]
    else:
        assert renewed.channel_id == old
        assert world.graph.subscriptions[str(old)]["renewed"] == 1


def test_no_token_in_any_feed_event(world: World) -> None:
    for provider in ("google", "microsoft"):
        ident = watched(world, provider)
        stored = b"".join(e.state for e in world.feeds.app.recorder.select_events(ident))
        assert TOKEN.encode() not in stored
        for channel in world.google.channels.values():
            assert channel.token.encode() not in stored


def test_a_graph_notification_from_an_ended_subscription_period_is_refused(world: World) -> None:
    # Older than any seen row is kept (commands/integrations/pruning.py): the expiry it states
    # has passed, though the subscription itself was renewed in place and lives on.
    watched(world, "microsoft")
    world.graph.add_event("Standup", "2026-12-03T09:00:00+00:00", "2026-12-03T09:15:00+00:00")
    _, body = world.graph.sent_notifications[-1]
    item = {**body["value"][0], "changeType": "updated"}  # not seen before
    path = "/v1/integrations/webhooks/microsoft"
    ended = {"value": [{**item, "subscriptionExpirationDateTime": "2026-01-01T00:00:00Z"}]}
    answer = world.client.post(path, json=ended)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "webhook_rejected"
    assert world.client.post(path, json={"value": [item]}).json()["outcome"] == "accepted"


def test_a_dead_grant_drops_the_renewal_and_a_reconnect_sets_it_again(world: World) -> None:
    ident = watched(world, "google")
    tokens: FixedTokens = world.feeds.apis["google"].client.tokens  # type: ignore[attr-defined]
    pool = world.client.app.state.services.pool  # type: ignore[attr-defined]

    def pending(kind: str) -> int:
        with pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM timers WHERE kind = %s", (kind,)).fetchone()
        return int(row[0])

    tokens.dead.add("google")
    # The renewal meets the dead grant: done with (no retry cures it), not fired every minute.
    assert world.fire_timers(world.feeds.channel_ttl - timedelta(hours=11)) == 1
    assert pending(RENEW) == 0 and len(world.google.channels) == 1
    tokens.dead.discard("google")

    assert world.feeds.watch(world.tenant, world.person, "google") == ident  # the reconnect
    assert len(world.google.channels) == 1  # the live channel kept, no second one
    assert pending(RENEW) == 1
    syncs = delta_syncs(world, "google")
    assert world.fire_timers() == 1 and delta_syncs(world, "google") == syncs + 1
