"""A connection's inbox follows the connection as its calendar does (decisions 0032, 0034):
connecting an account through the test OAuth server opens both the calendar channel and the
inbox channel at the provider (Gmail's watch, a Graph subscription on the Inbox), a reconnect
opens no second inbox channel, and a disconnect or the person's erasure stops the inbox channel
at the provider and retires it here: its notifications change nothing from then on."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from commands.settings import CairnSettings
from domain.integrations.mail_feed import mail_feed_id
from tests.e2e.integrations.test_connections_erasure import erase
from tests.e2e.integrations.test_connections_feeds import connect, feed_opens_pending, wait_for
from tests.support.fake_gmail import PUSH_ACCOUNT, FakeGoogleMail
from tests.support.fake_graph_mail import FakeGraphMail
from tests.support.in_process import Cairn, Person
from tests.support.live_tokens import LiveTokens
from tests.support.oauth_server import TestOAuthServer

pytestmark = pytest.mark.e2e

TOPIC = "projects/cairn-test/topics/gmail"
CALLBACK = "/console/connections-callback.html"
GMAIL_WATCH = r"/gmail/v1/users/me/watch"
GMAIL_STOP = r"/gmail/v1/users/me/stop"
GMAIL_PUSH = "/v1/integrations/webhooks/gmail"
CALENDAR_WATCH = r"/calendar/v3/calendars/primary/events/watch"


@pytest.fixture(params=["google", "microsoft"])
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def oauth(shape: str) -> Iterator[TestOAuthServer]:
    with TestOAuthServer(f"http://localhost{CALLBACK}", shape=shape) as server:
        yield server


@pytest.fixture
def google(oauth: TestOAuthServer) -> Iterator[FakeGoogleMail]:
    fake = FakeGoogleMail()
    fake.tokens = LiveTokens(oauth)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def graph(oauth: TestOAuthServer) -> Iterator[FakeGraphMail]:
    fake = FakeGraphMail()
    fake.tokens = LiveTokens(oauth)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def cairn_settings(
    cairn_settings: CairnSettings,
    oauth: TestOAuthServer,
    shape: str,
    google: FakeGoogleMail,
    graph: FakeGraphMail,
) -> CairnSettings:
    oauth.redirect_uris[:] = [f"{cairn_settings.origins[0]}{CALLBACK}"]
    return dataclasses.replace(
        cairn_settings,
        oauth_providers={shape: oauth.provider_entry(shape)},
        provider_urls={"google": google.base_url, "microsoft": graph.base_url},
        webhook_base_url="http://testserver",
        gmail_pubsub_topic=TOPIC,
        gmail_push_service_account=PUSH_ACCOUNT,
    )


@pytest.fixture
def answers(cairn: Cairn, google: FakeGoogleMail, graph: FakeGraphMail) -> list[Any]:
    """The providers' pushes and notifications go to the in-process API; its answers are
    kept."""
    kept: list[Any] = []

    def push(url: str, headers: dict[str, str], body: Any) -> None:
        kept.append(cairn.client.post(urlsplit(url).path, headers=headers, json=body))

    def deliver(url: str, body: Any) -> None:
        kept.append(cairn.client.post(urlsplit(url).path, json=body))

    def deliver_calendar(url: str, headers: dict[str, str], _body: Any) -> None:
        kept.append(cairn.client.post(urlsplit(url).path, headers=headers))

    def validate(url: str, challenge: str) -> str:
        echoed = cairn.client.post(urlsplit(url).path, params={"validationToken": challenge})
        return echoed.text if echoed.status_code == 200 else ""

    google.deliver_push, google.push_url = push, f"http://testserver{GMAIL_PUSH}"
    google.push_audience = google.push_url
    google.deliver = deliver_calendar
    graph.deliver, graph.validate = deliver, validate
    return kept


def inbox_events(cairn: Cairn, person: Person, provider: str) -> list[str]:
    ident = mail_feed_id(person.session["tenant_id"], person.session["user_id"], provider)
    app = cairn.services.mail.app
    return [type(app.mapper.to_domain_event(s)).__name__ for s in app.recorder.select_events(ident)]


def inbox_subscriptions(graph: FakeGraphMail) -> list[dict[str, Any]]:
    return [s for s in graph.subscriptions.values() if "mailFolders" in str(s.get("resource"))]


def calendar_subscriptions(graph: FakeGraphMail) -> list[dict[str, Any]]:
    return [s for s in graph.subscriptions.values() if "mailFolders" not in str(s.get("resource"))]


def inbox_channels(provider: str, google: FakeGoogleMail, graph: FakeGraphMail) -> int:
    return len(google.watches) if provider == "google" else len(inbox_subscriptions(graph))


def calendar_channels(provider: str, google: FakeGoogleMail, graph: FakeGraphMail) -> int:
    return len(google.channels) if provider == "google" else len(calendar_subscriptions(graph))


def connected(
    cairn: Cairn,
    oauth: TestOAuthServer,
    provider: str,
    google: FakeGoogleMail,
    graph: FakeGraphMail,
    name: str,
) -> Person:
    """A person whose account at `provider` is connected, with both feeds followed."""
    ada = cairn.sign_up(name)
    connect_to(cairn, ada, oauth, provider)
    wait_for(lambda: calendar_channels(provider, google, graph) == 1, "the calendar channel")
    wait_for(lambda: inbox_channels(provider, google, graph) == 1, "the inbox channel")
    wait_for(lambda: "MailSynced" in inbox_events(cairn, ada, provider), "the inbox's first sync")
    return ada


def connect_to(
    cairn: Cairn, person: Person, oauth: TestOAuthServer, provider: str, how: str = "connect"
) -> None:
    if provider == "google":
        connect(cairn, person, oauth, how)
        return
    started = cairn.client.post(
        f"/v1/connections/{provider}/{how}", json={}, headers=person.headers
    )
    assert started.status_code == 200, started.text
    params = oauth.approve(started.json()["authorization_url"])
    done = cairn.client.post("/v1/connections/callback", json=params, headers=person.headers)
    assert done.status_code == 202, done.text


def receive(provider: str, google: FakeGoogleMail, graph: FakeGraphMail) -> None:
    if provider == "google":
        google.receive("Grace <grace@example.org>", "Lunch?", "Are you free on Friday")
    else:
        graph.arrive("Grace", "grace@example.org", "Lunch?", "Are you free on Friday")


def test_connecting_follows_the_inbox_once_and_disconnecting_stops_it(
    cairn: Cairn,
    oauth: TestOAuthServer,
    shape: str,
    google: FakeGoogleMail,
    graph: FakeGraphMail,
    cairn_settings: CairnSettings,
    answers: list[Any],
) -> None:
    provider = shape
    receive(provider, google, graph)  # before the connect: found by the first (full) sync
    ada = connected(cairn, oauth, provider, google, graph, f"inbox-life-{provider}")
    first = inbox_subscriptions(graph)

    connect_to(cairn, ada, oauth, provider, "reconnect")
    wait_for(lambda: feed_opens_pending(cairn_settings) == 0, "the reconnect's feed timer fired")
    assert inbox_events(cairn, ada, provider).count("ChannelOpened") == 1
    if provider == "google":
        assert google.calls("POST", GMAIL_WATCH) == 1 and google.calls("POST", CALENDAR_WATCH) == 1
    else:
        assert inbox_subscriptions(graph) == first and len(graph.subscriptions) == 2

    gone = cairn.client.post(f"/v1/connections/{provider}/disconnect", headers=ada.headers)
    assert gone.status_code == 202, gone.text

    assert inbox_channels(provider, google, graph) == 0  # stopped at the provider
    assert inbox_events(cairn, ada, provider)[-1] == "FeedClosed"
    before = len(inbox_events(cairn, ada, provider))
    if provider == "google":
        assert google.calls("POST", GMAIL_STOP) == 1
        # Pub/Sub may still deliver a push Gmail published before the stop: acknowledged (or
        # Pub/Sub would deliver it for days) and ignored, as for any mailbox not followed.
        google.deliver_push(
            google.push_url, {"Authorization": f"Bearer {google.sign()}"}, google.envelope()
        )
        assert answers[-1].status_code == 200 and answers[-1].json()["outcome"] == "ignored"
    else:
        # A notification Graph still sends for the deleted subscription is refused.
        [subscription] = first
        graph.subscriptions[subscription["id"]] = subscription
        graph.arrive("Grace", "grace@example.org", "Still there?", "After the disconnect")
        assert answers[-1].status_code == 403
        assert answers[-1].json()["error"]["code"] == "webhook_rejected"
    assert len(inbox_events(cairn, ada, provider)) == before


def test_erasing_the_person_stops_the_inbox_channel(
    cairn: Cairn,
    oauth: TestOAuthServer,
    shape: str,
    google: FakeGoogleMail,
    graph: FakeGraphMail,
    answers: list[Any],
) -> None:
    provider = shape
    receive(provider, google, graph)
    ada = connected(cairn, oauth, provider, google, graph, f"inbox-erase-{provider}")

    erase(cairn, ada)

    assert inbox_channels(provider, google, graph) == 0
    assert inbox_events(cairn, ada, provider)[-1] == "FeedClosed"
