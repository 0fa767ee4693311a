"""When the worker's `connection.feed_open` timer follows a calendar and an inbox (an active
connection at a provider with such feeds), which failures fire it again, and the feeds' close
(no I/O: the library's POPO store, stub feeds)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from commands.integrations.lifecycle import FEED_OPEN, close_feed, open_feed
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

        self.closed: list[str] = []

    def watch(self, tenant: str, person: str, provider: str) -> None:
        self.watched.append((tenant, person, provider))
        if self.failure is not None:
            raise self.failure

    def close(self, tenant: str, person: str, provider: str, reason: str) -> None:
        self.closed.append(reason)
        if self.failure is not None:
            raise self.failure


def ports(feeds: StubFeeds, mail: StubFeeds | None = None) -> ConnectionsPorts:
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
        mail=cast(Any, mail),
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


@pytest.mark.parametrize("failing", ["calendar", "inbox"])
def test_a_retryable_failure_of_one_feed_does_not_keep_the_other_from_opening(
    failing: str,
) -> None:
    down = failure(ErrorKind.SERVER_ERROR)
    calendar = StubFeeds({"google"}, down if failing == "calendar" else None)
    inbox = StubFeeds({"google"}, down if failing == "inbox" else None)
    cp = ports(calendar, inbox)
    timer = stored(cp)
    with pytest.raises(IntegrationError):  # the timer fires again: both watches are idempotent
        open_feed(timer, cp)
    assert calendar.watched == inbox.watched == [(str(timer.tenant_id), "p1", "google")]


def test_an_inbox_not_followed_at_the_provider_leaves_the_calendar_alone() -> None:
    calendar, inbox = StubFeeds({"google"}), StubFeeds({"microsoft"})
    cp = ports(calendar, inbox)
    open_feed(stored(cp), cp)
    assert len(calendar.watched) == 1 and inbox.watched == []


def test_closing_closes_the_inbox_even_when_the_calendar_close_fails() -> None:
    calendar = StubFeeds({"google"}, failure(ErrorKind.SERVER_ERROR))
    inbox = StubFeeds({"google"})
    cp = ports(calendar, inbox)
    connection: Connection = cp.app.repository.get(stored(cp).subject_id)
    close_feed(cp, connection, "disconnected")
    assert calendar.closed == inbox.closed == ["disconnected"]
