"""Inbox sync through Cairn's webhook routes with the Gmail- and Graph-shaped fakes: Gmail's
Cloud Pub/Sub push (checked by its OIDC token) and Graph's inbox subscriptions ask for a delta
sync; a forged, replayed or unknown push changes nothing; five copies cause one delta sync; an
expired history id or delta link leads to a full resync with identical facts; the personal
fields are sealed and shredded with the person. Timers are fired by the test, as a worker
would, so that each sync is counted."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from adapters.integrations.providers import MemoryOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.postgres.timers import PostgresTimers
from api.app import create_app
from api.settings import ServiceUrls
from commands.integrations.mail_sync import MailSync
from commands.ports.vault import ERASED
from commands.settings import CairnSettings
from domain.integrations.mail_feed import MailFeed
from tests.support.connection_tokens import FixedTokens
from tests.support.fake_gmail import PUSH_ACCOUNT, FakeGoogleMail
from tests.support.fake_graph_mail import INBOX_DELTA, FakeGraphMail
from tests.support.in_process import Cairn
from tests.support.workers import worker_thread

pytestmark = pytest.mark.e2e

TOKEN = "ya29.mail-canary-5e1b"  # a canary: in no event and no answer
TOPIC = "projects/cairn-test/topics/gmail"
GMAIL = "/v1/integrations/webhooks/gmail"
GRAPH = "/v1/integrations/webhooks/microsoft"
GMAIL_HISTORY = r"/gmail/v1/users/me/history"


@dataclass
class World:
    client: TestClient
    mail: MailSync
    google: FakeGoogleMail
    graph: FakeGraphMail
    tenant: str
    person: str
    answers: list[Any]
    settings: CairnSettings

    def fire_timers(self, at_offset: timedelta = timedelta(0)) -> int:
        timers = PostgresTimers(self.client.app.state.services.pool)  # type: ignore[attr-defined]
        real = self.mail.clock
        self.mail.clock = lambda: real() + at_offset
        try:
            return timers.fire_due(self.mail.clock(), self.mail.on_timer)
        finally:
            self.mail.clock = real

    def events(self, ident: uuid.UUID) -> list[Any]:
        app = self.mail.app
        return [app.mapper.to_domain_event(s) for s in app.recorder.select_events(ident)]

    def facts(self, ident: uuid.UUID) -> dict[str, tuple[Any, ...]]:
        """The synced inbox as its events tell it: what a context graph would build."""
        vault = self.client.app.state.services.identity.vault  # type: ignore[attr-defined]
        view: dict[str, tuple[Any, ...]] = {}
        for event in self.events(ident):
            if type(event).__name__ == "MailSynced":
                opened = tuple(
                    vault.open_personal(self.tenant, event.sealed[name], f"mail.{name}")
                    for name in ("sender", "subject", "snippet")
                )
                view[event.message_id] = (*opened, event.fields["thread_id"])
            elif type(event).__name__ == "MailRemoved":
                view.pop(event.message_id)
        return view

    def named(self, ident: uuid.UUID, since: int = 0) -> list[str]:
        return [type(e).__name__ for e in self.events(ident)[since:]]


@pytest.fixture
def world(cairn_settings: CairnSettings) -> Iterator[World]:
    google, graph = FakeGoogleMail({TOKEN}), FakeGraphMail({TOKEN})
    google.start()
    graph.start()
    s = dataclasses.replace(
        cairn_settings,
        webhook_base_url="http://testserver",
        gmail_push_service_account=PUSH_ACCOUNT,
        provider_urls={**cairn_settings.provider_urls, "google": google.base_url},
    )
    urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    answers: list[Any] = []
    with TestClient(create_app(urls, settings=s)) as client:

        def push(url: str, headers: dict[str, str], body: Any) -> Any:
            answers.append(client.post(urlsplit(url).path, headers=headers, json=body))
            return answers[-1]

        def deliver_graph(url: str, body: Any) -> None:
            answers.append(client.post(urlsplit(url).path, json=body))

        def validate(url: str, challenge: str) -> str:
            echoed = client.post(urlsplit(url).path, params={"validationToken": challenge})
            return echoed.text if echoed.status_code == 200 else ""

        google.deliver_push, google.push_url = push, f"http://testserver{GMAIL}"
        google.push_audience = google.push_url
        graph.deliver, graph.validate = deliver_graph, validate
        cairn = Cairn(client)
        ada = cairn.sign_up("inbox")
        tokens = FixedTokens({"google": [TOKEN], "microsoft": [TOKEN]})
        provider_urls = {"google": google.base_url, "microsoft": graph.base_url}
        routed = connected_providers(provider_urls, tokens, MemoryOutbox(), gmail_topic=TOPIC)
        cairn.services.mail.apis = routed.mail_feeds
        yield World(
            client,
            cairn.services.mail,
            google,
            graph,
            ada.session["tenant_id"],
            ada.session["user_id"],
            answers,
            s,
        )
    google.stop()
    graph.stop()


def watched(world: World, provider: str) -> uuid.UUID:
    ident = world.mail.watch(world.tenant, world.person, provider)
    assert world.fire_timers() == 1  # the first (full) sync
    return ident


def receive(world: World, provider: str, sender: tuple[str, str], subject: str, text: str) -> str:
    if provider == "google":
        return world.google.receive(f"{sender[0]} <{sender[1]}>", subject, text)
    return world.graph.arrive(*sender, subject, text)


def _part(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).decode().rstrip("=")


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_part(json.dumps(header).encode())}.{_part(json.dumps(claims).encode())}."


def hmac_signed(kid: str, claims: dict[str, Any], secret: bytes) -> str:
    """The classic confusion: HS256 keyed with the RSA public key a verifier holds."""
    signing = unsigned({"alg": "HS256", "kid": kid}, claims)[:-1]
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_part(mac)}"


def delta_syncs(world: World, provider: str) -> int:
    if provider == "google":
        return world.google.calls("GET", GMAIL_HISTORY)
    return world.graph.calls("GET", INBOX_DELTA)


def replay(world: World, provider: str, times: int) -> None:
    if provider == "google":
        world.google.replay_last_push(times)
    else:
        world.graph.replay_last(times)


@pytest.mark.parametrize("which", ["google", "microsoft"])
def test_five_copies_of_a_notification_cause_one_delta_sync(world: World, which: str) -> None:
    ident = watched(world, which)
    before = delta_syncs(world, which)
    world.answers.clear()
    grace = ("Grace Hopper", "grace@example.org")
    added = receive(world, which, grace, "Lunch on Friday?", "Shall we try the new place")
    replay(world, which, 4)
    outcomes = [a.json()["outcome"] for a in world.answers]
    assert outcomes == ["accepted"] + ["duplicate"] * 4
    assert world.fire_timers() == 1 and world.fire_timers() == 0
    assert delta_syncs(world, which) == before + 1
    sender, subject, snippet, thread = world.facts(ident)[added]
    assert sender == "Grace Hopper <grace@example.org>" and subject == "Lunch on Friday?"
    assert snippet == "Shall we try the new place" and thread
    assert world.named(ident).count("ChangeNotified") == 1


def test_forged_replayed_and_unknown_gmail_pushes_change_nothing(world: World) -> None:
    ident = watched(world, "google")
    google = world.google
    google.receive("Grace <grace@example.org>", "Standup", "notes")
    assert world.answers[-1].json()["outcome"] == "accepted"
    assert world.fire_timers() == 1
    before = len(world.events(ident))

    def post(body: Any, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return world.client.post(GMAIL, headers=headers, json=body)

    fresh = google.envelope(google.history_id + 5)  # a change that would ask for a sync
    kid = str(google.signing_key.kid)
    stranger = RSAKey.generate_key(2048, parameters={"kid": kid})
    public_pem = google.signing_key.as_pem(private=False)
    forged = {
        "no token": None,
        "another key": google.sign(key=stranger),
        "another audience": google.sign(aud="https://evil.example/hook"),
        "another account": google.sign(email="someone@evil.iam.gserviceaccount.com"),
        "unverified account": google.sign(email_verified=False),
        "another issuer": google.sign(iss="https://evil.example"),
        "expired": google.sign(iat=1_700_000_000, exp=1_700_003_600),
        "unknown key": google.sign(kid="other"),
        "not signed": unsigned({"alg": "none", "kid": kid}, google.claims()),
        "HMAC with the public key": hmac_signed(kid, google.claims(), public_pem),
    }
    for why, token in forged.items():
        answer = post(fresh, token)
        assert answer.status_code == 403, why
        assert answer.json()["error"]["code"] == "webhook_rejected", why
        assert token is None or token not in answer.text
    # The genuine push again, and a replay under a new Pub/Sub id of a change synced already.
    _url, headers, genuine = google.pushes[-1]
    assert world.client.post(GMAIL, headers=headers, json=genuine).json()["outcome"] == "duplicate"
    stale = google.envelope(google.history_id)
    assert post(stale, google.sign()).json()["outcome"] == "duplicate"
    # Genuine, but for a mailbox Cairn does not follow: acknowledged so Pub/Sub stops, ignored.
    google.mailbox = "somebody@example.org"
    assert post(google.envelope(google.history_id + 9), google.sign()).json() == {
        "outcome": "ignored"
    }
    assert (
        post({"message": {"data": "not base64!", "messageId": "1"}}, google.sign()).status_code
        == 400
    )
    assert world.client.post(GMAIL, content=b"not json").status_code == 400
    assert world.fire_timers() == 0
    assert len(world.events(ident)) == before


def test_forged_and_replayed_graph_inbox_notifications_change_nothing(world: World) -> None:
    ident = watched(world, "microsoft")
    world.graph.arrive("Grace", "grace@example.org", "Standup", "notes")
    assert world.fire_timers() == 1
    before = len(world.events(ident))
    _, body = world.graph.sent_notifications[-1]
    forged = {"value": [{**body["value"][0], "clientState": "guessed", "changeType": "deleted"}]}
    other = {"value": [{**body["value"][0], "subscriptionId": str(uuid.uuid4())}]}
    for bad in (forged, other):
        answer = world.client.post(GRAPH, json=bad)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "webhook_rejected"
    assert world.client.post(GRAPH, json=body).json()["outcome"] == "duplicate"
    assert world.fire_timers() == 0
    assert len(world.events(ident)) == before


@pytest.mark.parametrize("which", ["google", "microsoft"])
def test_an_expired_history_leads_to_a_full_resync_with_identical_facts(
    world: World, which: str
) -> None:
    grace, alan = ("Grace", "grace@example.org"), ("Alan", "alan@example.org")
    first = receive(world, which, grace, "Agenda", "points for Monday")
    second = receive(world, which, alan, "Tea", "at four")
    third = receive(world, which, grace, "Slides", "attached")
    ident = watched(world, which)  # a full sync (three pages of two at Graph)
    fourth = receive(world, which, alan, "Re: Tea", "yes")
    (world.google if which == "google" else world.graph).delete(second)
    assert world.fire_timers() == 1
    delta_view = world.facts(ident)
    assert {k: v[1] for k, v in delta_view.items()} == {
        first: "Agenda",
        third: "Slides",
        fourth: "Re: Tea",
    }
    synced_before = len(world.events(ident))

    if which == "google":
        world.google.expire_history()
        world.google.receive("Grace <grace@example.org>", "Late", "x", push=False)
        world.google.delete(world.google.history[-1][2])
    else:
        world.graph.expire_mail_delta_links()
        world.graph.notify_inbox("updated", first)
    assert world.fire_timers() == 1
    # One notification, one resync marker, and no fact repeated.
    assert world.named(ident, synced_before) == ["ChangeNotified", "FullResyncStarted"]
    assert world.facts(ident) == delta_view


def test_the_personal_fields_are_sealed_and_shredded_with_the_person(world: World) -> None:
    ident = watched(world, "google")
    world.google.receive("Grace <grace@example.org>", "Biopsy results", "Dear Ada, the lab")
    assert world.fire_timers() == 1
    stored = b"".join(e.state for e in world.mail.app.recorder.select_events(ident))
    for plain in (b"grace@example.org", b"Biopsy", b"Dear Ada", TOKEN.encode()):
        assert plain not in stored
    assert world.google.mailbox.encode() not in stored
    vault = world.client.app.state.services.identity.vault  # type: ignore[attr-defined]
    [synced] = [e for e in world.events(ident) if type(e).__name__ == "MailSynced"]

    assert vault.erase_subject(world.tenant, world.person) is True

    assert vault.open_personal(world.tenant, synced.sealed["subject"], "mail.subject") is ERASED


@pytest.mark.parametrize("which", ["google", "microsoft"])
def test_inbox_channels_are_renewed_before_they_expire(world: World, which: str) -> None:
    ident = watched(world, which)
    feed: MailFeed = world.mail.app.repository.get(ident)
    assert feed.channel_expires_at is not None
    renewals = len(world.google.watches) if which == "google" else 0
    ends_in = feed.channel_expires_at - world.mail.clock()
    assert world.fire_timers(ends_in - timedelta(hours=13)) == 0
    assert world.fire_timers(ends_in - timedelta(hours=11)) == 1
    renewed: MailFeed = world.mail.app.repository.get(ident)
    assert renewed.channel_id == feed.channel_id
    assert renewed.channel_expires_at > feed.channel_expires_at  # type: ignore[operator]
    if which == "google":
        assert len(world.google.watches) == renewals + 1
        assert world.google.watches[-1]["topicName"] == TOPIC
    else:
        [subscription] = world.graph.subscriptions.values()
        assert subscription["renewed"] == 1
        assert subscription["resource"] == "/me/mailFolders('Inbox')/messages"


def test_a_worker_syncs_the_inbox_a_push_asked_for(world: World) -> None:
    ident = watched(world, "google")
    services = world.client.app.state.services  # type: ignore[attr-defined]
    with worker_thread(world.settings, services):
        added = world.google.receive("Grace <grace@example.org>", "Ping", "are you there")
        deadline = time.monotonic() + 30
        while added not in world.facts(ident) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert world.facts(ident)[added][1] == "Ping"
    assert world.fire_timers() == 0  # the worker fired it


def test_a_throttled_inbox_sync_is_put_off_and_then_loses_nothing(world: World) -> None:
    ident = watched(world, "microsoft")
    added = world.graph.arrive("Grace", "grace@example.org", "Busy?", "quick question")
    world.graph.throttle_next(1, retry_after=1)

    assert world.fire_timers() == 0  # 429: the timer stays, put off
    assert added not in world.facts(ident)
    assert world.fire_timers(timedelta(seconds=5)) == 1

    assert world.facts(ident)[added][1] == "Busy?"
    assert world.named(ident).count("MailSynced") == 1
