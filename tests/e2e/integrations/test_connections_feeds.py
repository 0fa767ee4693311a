"""A connection's calendar feed follows the connection (decision 0032): opened by the worker
once the account connects (a failing watch call fails nothing and is retried), not opened twice
by a reconnect, closed on disconnect (the channel stopped at the provider, its notifications
refused) and replaced when another account is connected. The OAuth server issues the tokens
the Google-shaped API accepts."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from commands.integrations.lifecycle import FEED_OPEN
from commands.settings import CairnSettings
from domain.integrations.sync import feed_id
from tests.support.fake_google import FakeGoogle
from tests.support.in_process import Cairn, Person
from tests.support.live_tokens import LiveTokens
from tests.support.oauth_server import TestOAuthServer

pytestmark = pytest.mark.e2e

WATCH = r"/calendar/v3/calendars/primary/events/watch"
EVENTS = r"/calendar/v3/calendars/primary/events"


@pytest.fixture
def oauth() -> Iterator[TestOAuthServer]:
    with TestOAuthServer("http://localhost/console/connections-callback.html") as server:
        yield server


@pytest.fixture
def google(oauth: TestOAuthServer) -> Iterator[FakeGoogle]:
    fake = FakeGoogle()
    fake.tokens = LiveTokens(oauth)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def cairn_settings(
    cairn_settings: CairnSettings, oauth: TestOAuthServer, google: FakeGoogle
) -> CairnSettings:
    oauth.redirect_uris[:] = [f"{cairn_settings.origins[0]}/console/connections-callback.html"]
    return dataclasses.replace(
        cairn_settings,
        oauth_providers={"google": oauth.provider_entry()},
        provider_urls={"google": google.base_url},
        webhook_base_url="http://testserver",
    )


@pytest.fixture
def delivered(cairn: Cairn, google: FakeGoogle) -> list[Any]:
    """Google's notifications go to the in-process API; their answers are kept."""
    answers: list[Any] = []

    def deliver(url: str, headers: dict[str, str], _body: Any) -> None:
        answers.append(cairn.client.post(urlsplit(url).path, headers=headers))

    google.deliver = deliver
    return answers


def connect(cairn: Cairn, person: Person, oauth: TestOAuthServer, how: str = "connect") -> None:
    started = cairn.client.post(f"/v1/connections/google/{how}", json={}, headers=person.headers)
    assert started.status_code == 200, started.text
    params = oauth.approve(started.json()["authorization_url"])
    done = cairn.client.post("/v1/connections/callback", json=params, headers=person.headers)
    assert done.status_code == 202, done.text


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def feed_opens_pending(settings: CairnSettings) -> int:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM timers WHERE kind = %s", (FEED_OPEN,)).fetchone()
    return int(row[0]) if row else 0


def feed_events(cairn: Cairn, person: Person) -> list[str]:
    ident = feed_id(person.session["tenant_id"], person.session["user_id"], "google")
    app = cairn.services.feeds.app
    return [type(app.mapper.to_domain_event(s)).__name__ for s in app.recorder.select_events(ident)]


def test_the_feed_opens_once_after_connect_and_closes_on_disconnect(
    cairn: Cairn,
    oauth: TestOAuthServer,
    google: FakeGoogle,
    cairn_settings: CairnSettings,
    delivered: list[Any],
) -> None:
    ada = cairn.sign_up("feed-lifecycle")
    # The provider's first watch call fails: the connect is answered all the same, and the
    # worker's timer tries again.
    google.fault_next(google.error(503, "backendError", "Backend Error"))
    connect(cairn, ada, oauth)
    wait_for(lambda: len(google.channels) == 1, "a channel opened")
    wait_for(lambda: google.calls("GET", EVENTS) >= 1, "the first full sync")
    assert google.calls("POST", WATCH) == 2
    [channel] = google.channels.values()

    connect(cairn, ada, oauth, "reconnect")
    wait_for(lambda: feed_opens_pending(cairn_settings) == 0, "the reconnect's feed timer fired")
    assert list(google.channels) == [channel.id] and google.calls("POST", WATCH) == 2
    assert feed_events(cairn, ada).count("ChannelOpened") == 1

    gone = cairn.client.post("/v1/connections/google/disconnect", headers=ada.headers)
    assert gone.status_code == 202, gone.text
    assert channel.stopped
    assert feed_events(cairn, ada)[-1] == "FeedClosed"
    # A notification for the closed channel (as Google might still send) changes nothing.
    before = len(feed_events(cairn, ada))
    google.channels[channel.id].stopped = False
    google.notify("exists")
    assert delivered[-1].status_code == 403
    assert delivered[-1].json()["error"]["code"] == "webhook_rejected"
    assert len(feed_events(cairn, ada)) == before


def test_another_account_replaces_the_channel(
    cairn: Cairn, oauth: TestOAuthServer, google: FakeGoogle, delivered: list[Any]
) -> None:
    ada = cairn.sign_up("feed-switch")
    connect(cairn, ada, oauth)
    wait_for(lambda: len(google.channels) == 1, "a channel opened")
    # And kept by Cairn (its record is saved after the provider answered the watch): only a
    # kept channel can be stopped by the next connect.
    wait_for(lambda: "ChannelOpened" in feed_events(cairn, ada), "the channel kept")
    [first] = google.channels.values()
    oauth.account, oauth.email = "acct-2", "grace@example.org"

    connect(cairn, ada, oauth)

    assert first.stopped  # with the first account's token, before it was revoked
    wait_for(lambda: len(google.channels) == 2, "the second account's channel")
    wait_for(lambda: feed_events(cairn, ada).count("ChannelOpened") == 2, "the second channel kept")
    names = feed_events(cairn, ada)
    assert names.count("FeedClosed") == 1 and names.count("ChannelOpened") == 2
