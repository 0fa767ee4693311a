"""When the worker's `connection.feed_open` timer follows a calendar (an active connection at a
provider with a feed), which failures fire it again, and the feed's close (no I/O: the
library's POPO store, a stub feed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from commands.integrations.lifecycle import FEED_OPEN, open_feed
from commands.integrations.ports import ConnectionsApplication, ConnectionsPorts
from commands.ports.integrations import ErrorKind, IntegrationError
from commands.ports.timers import Timer
from domain.event_context import EventContext
from domain.integrations.connection import Connection
from domain.integrations.sync import CalendarFeed

pytestmark = pytest.mark.unit

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class StubFeeds:
    def __init__(self, providers: set[str], failure: IntegrationError | None = None) -> None:
        self.apis = dict.fromkeys(providers, object())
        self.failure = failure
        self.watched: list[tuple[str, str, str]] = []

    def watch(self, tenant: str, person: str, provider: str) -> None:
        self.watched.append((tenant, person, provider))
        if self.failure is not None:
            raise self.failure


def ports(feeds: StubFeeds) -> ConnectionsPorts:
    unused: Any = None
    return ConnectionsPorts(
        app=ConnectionsApplication(env=POPO),
        tokens=unused,
        oauth=unused,
        states=unused,
        vault=unused,
        timers=unused,
        new_verifier=lambda: "verifier",
        feeds=cast(Any, feeds),
    )


def stored(cp: ConnectionsPorts, provider: str = "google", state: str = "active") -> Timer:
    connection = Connection(
        tenant_id=uuid.uuid4(), person_id="p1", provider=provider, requested_scopes=["calendar"]
    )
    if state != "pending":
        connection.connect("pii:v1:x", "key-1", ["calendar"])
    if state == "reauth_required":
        connection.require_reauth("invalid_grant")
    elif state == "disconnected":
        connection.disconnect(True)
    cp.app.save(connection, context=EventContext(tenant=str(connection.tenant_id), actor="t"))
    return Timer(FEED_OPEN, connection.id, connection.tenant_id, NOW)


def test_an_active_connection_at_a_provider_with_a_feed_is_followed() -> None:
    feeds = StubFeeds({"google"})
    cp = ports(feeds)
    timer = stored(cp)
    open_feed(timer, cp)
    assert feeds.watched == [(str(timer.tenant_id), "p1", "google")]


@pytest.mark.parametrize("state", ["pending", "reauth_required", "disconnected"])
def test_a_connection_that_is_not_active_is_not_followed(state: str) -> None:
    feeds = StubFeeds({"google"})
    cp = ports(feeds)
    open_feed(stored(cp, state=state), cp)
    assert feeds.watched == []


def test_a_provider_without_a_calendar_feed_or_an_unknown_connection_is_not_followed() -> None:
    feeds = StubFeeds({"microsoft"})
    cp = ports(feeds)
    open_feed(stored(cp, provider="bank"), cp)
    open_feed(Timer(FEED_OPEN, uuid.uuid4(), uuid.uuid4(), NOW), cp)
    assert feeds.watched == []


def failure(kind: ErrorKind) -> IntegrationError:
    return IntegrationError(kind, f"HTTP ({kind})", provider="google", action="calendar.watch")


@pytest.mark.parametrize("kind", [ErrorKind.SERVER_ERROR, ErrorKind.RATE_LIMITED])
def test_a_failure_a_retry_can_cure_fires_the_timer_again(kind: ErrorKind) -> None:
    cp = ports(StubFeeds({"google"}, failure(kind)))
    with pytest.raises(IntegrationError):
        open_feed(stored(cp), cp)


@pytest.mark.parametrize("kind", [ErrorKind.REJECTED, ErrorKind.NEEDS_PERSON])
def test_a_failure_only_the_person_can_cure_drops_the_timer(kind: ErrorKind) -> None:
    feeds = StubFeeds({"google"}, failure(kind))
    cp = ports(feeds)
    open_feed(stored(cp), cp)  # no exception: the timer is done
    assert len(feeds.watched) == 1


def test_a_feed_closes_once_and_an_opened_channel_reopens_it() -> None:
    feed = CalendarFeed(tenant="t", person="p", provider="google")
    feed.open_channel("c1", NOW)
    feed.close("disconnected")
    feed.close("disconnected")
    assert feed.closed and feed.channel_id is None
    feed.open_channel("c2", NOW)
    assert not feed.closed and feed.channel_id == "c2"
    names = [type(e).__name__ for e in feed.collect_events()]
    assert names == ["FeedStarted", "ChannelOpened", "FeedClosed", "ChannelOpened"]
