"""The mail sync without I/O: the feed's facts, Gmail's push verdicts and the sync's rules on
in-memory ports (the library's POPO store), and the OIDC check of Pub/Sub's push with a local
key behind a mock transport."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from adapters.integrations.pubsub import GoogleOidcVerifier
from commands.integrations.mail_sync import GmailPush, MailSync
from commands.integrations.sync import (
    MAIL_RENEW,
    MAIL_SYNC,
    FeedsApplication,
    Verdict,
    WebhookRejected,
)
from commands.ports.calendar_sync import ChannelRecord, CursorExpired, OpenedChannel
from commands.ports.mail_sync import MailChanges, MailItem, PushRejected
from commands.ports.timers import Timer
from domain.errors import InvalidInput
from domain.integrations.mail_feed import MailFeed, gmail_channel_id, mail_feed_id
from domain.integrations.sync import feed_id
from tests.unit.commands.fakes import MemoryVault

pytestmark = pytest.mark.unit

MAILBOX = "Ada@Example.org"


class MemoryFeedStore:
    def __init__(self) -> None:
        self.channels: dict[str, ChannelRecord] = {}
        self.cursors: dict[UUID, str] = {}
        self.seen: set[tuple[str, str]] = set()

    def save_channel(self, record: ChannelRecord) -> None:
        self.channels[record.channel_id] = record

    def channel(self, channel_id: str) -> ChannelRecord | None:
        return self.channels.get(channel_id)

    def retire_channel(self, channel_id: str) -> None:
        self.channels.pop(channel_id, None)

    def channel_to_renew(self, renewal_id: UUID) -> ChannelRecord | None:
        return next((c for c in self.channels.values() if c.renewal_id == renewal_id), None)

    def cursor(self, feed_id: UUID) -> str | None:
        return self.cursors.get(feed_id)

    def set_cursor(self, feed_id: UUID, cursor: str) -> None:
        self.cursors[feed_id] = cursor

    def first_seen(self, channel_id: str, notification: str) -> bool:
        new = (channel_id, notification) not in self.seen
        self.seen.add((channel_id, notification))
        return new

    def live_channels(self, feed_id: UUID) -> list[ChannelRecord]:
        return [c for c in self.channels.values() if c.feed_id == feed_id]

    def forget_cursor(self, feed_id: UUID) -> None:
        self.cursors.pop(feed_id, None)

    def forget_seen(self, before: datetime) -> int:
        return 0  # no first-seen times kept here


class MemoryTimers:
    def __init__(self) -> None:
        self.set: dict[tuple[str, UUID], Timer] = {}

    def schedule(self, timer: Timer) -> None:
        self.set[(timer.kind, timer.subject_id)] = timer


class FakeInbox:
    """A mailbox whose cursor is a change counter; `expired` makes every cursor too old."""

    def __init__(self) -> None:
        self.messages: dict[str, MailItem] = {}
        self.changes_since: list[tuple[int, str, str]] = []
        self.expired = False
        self.fetched: list[str] = []
        self.mailbox = MAILBOX
        self.asked: list[str | None] = []  # the cursor of each changes call
        self.watches = 0
        self.stopped: list[str] = []  # the channels stopped
        self.stop_fails = False

    def add(self, message_id: str, subject: str, snippet: str = "hello") -> None:
        item = MailItem(message_id, "Grace <grace@example.org>", subject, snippet, None, "t1")
        self.messages[message_id] = item
        self.changes_since.append((len(self.changes_since) + 1, "added", message_id))

    def remove(self, message_id: str) -> None:
        del self.messages[message_id]
        self.changes_since.append((len(self.changes_since) + 1, "removed", message_id))

    def watch(self, *_: Any) -> OpenedChannel:
        self.watches += 1
        expires = datetime.now(UTC) + timedelta(days=7)
        return OpenedChannel(gmail_channel_id(self.mailbox), "", expires)

    def renew(self, *_: Any) -> OpenedChannel:
        return self.watch()

    def stop(self, tenant: str, person: str, channel: ChannelRecord) -> None:
        if self.stop_fails:
            raise OSError("the provider is down")
        self.stopped.append(channel.channel_id)

    def changes(
        self, tenant: str, person: str, cursor: str | None, known: Collection[str]
    ) -> MailChanges:
        now = str(len(self.changes_since))
        self.asked.append(cursor)
        if cursor is None:
            fresh = [m for i, m in self.messages.items() if i not in known]
            self.fetched += [m.message_id for m in fresh]
            return MailChanges(fresh, [], now, True, frozenset(self.messages))
        if self.expired:
            raise CursorExpired("too old")
        later = [(kind, i) for n, kind, i in self.changes_since if n > int(cursor)]
        added = [self.messages[i] for kind, i in later if kind == "added" and i in self.messages]
        self.fetched += [m.message_id for m in added if m.message_id not in known]
        removed = [i for kind, i in later if kind == "removed"]
        return MailChanges([m for m in added if m.message_id not in known], removed, now, False)


class Verifier:
    def __init__(self) -> None:
        self.valid = "good-token"

    def verify(self, authorization: str | None) -> None:
        if authorization != f"Bearer {self.valid}":
            raise PushRejected("bad token")


def mail_sync(inbox: FakeInbox) -> MailSync:
    return MailSync(
        FeedsApplication(),
        MemoryFeedStore(),
        MemoryTimers(),  # type: ignore[arg-type]
        MemoryVault(),
        "https://cairn.example",
        apis={"google": inbox},
        gmail_push_verifier=Verifier(),
    )


TENANT, PERSON = "0b0c7a52-3f0e-4f43-9a0f-7f3c1f6f2a15", "p1"


def push(history_id: int, message_id: str = "m1", mailbox: str = MAILBOX) -> GmailPush:
    data = json.dumps({"emailAddress": mailbox, "historyId": history_id}).encode()
    return GmailPush.from_envelope(message_id, base64.b64encode(data).decode())


def test_a_feed_records_a_message_once_and_its_id_is_not_the_calendars() -> None:
    feed = MailFeed(tenant="t", person="p", provider="google")
    assert feed.id == mail_feed_id("t", "p", "google") != feed_id("t", "p", "google")
    assert feed.sync_message("m1", {"subject": "sealed"}, {"thread_id": "t1"}) is True
    assert feed.sync_message("m1", {"subject": "sealed"}, {"thread_id": "t1"}) is False
    assert feed.remove_message("m1") is True and feed.remove_message("m1") is False
    names = [type(e).__name__ for e in feed.collect_events()]
    assert names == ["MailFeedStarted", "MailSynced", "MailRemoved"]


def test_the_mailbox_hash_names_the_channel_whatever_the_case() -> None:
    assert gmail_channel_id(" ada@example.org") == gmail_channel_id(MAILBOX)
    assert "ada" not in gmail_channel_id(MAILBOX).lower().removeprefix("gmail:")


def test_a_push_is_accepted_once_and_never_for_what_was_synced_already() -> None:
    inbox = FakeInbox()
    sync = mail_sync(inbox)
    ident = sync.watch(TENANT, PERSON, "google")
    sync.sync(ident)  # the first sync, cursor "0"
    inbox.add("m1", "Lunch")
    inbox.add("m2", "Tea")

    assert sync.gmail_push("Bearer good-token", push(2, "p1")) is Verdict.ACCEPTED
    assert sync.gmail_push("Bearer good-token", push(2, "p1")) is Verdict.DUPLICATE
    assert sync.sync(ident) == 2
    assert sync.gmail_push("Bearer good-token", push(2, "p2")) is Verdict.DUPLICATE  # stale
    for bad in (None, "Bearer guessed", "good-token"):
        with pytest.raises(WebhookRejected):
            sync.gmail_push(bad, push(9, "p3"))
    feed: MailFeed = sync.app.repository.get(ident)
    assert feed.notifications == 1
    assert (MAIL_SYNC, ident) in sync.timers.set  # type: ignore[attr-defined]


def test_without_a_verifier_every_push_is_refused() -> None:
    sync = mail_sync(FakeInbox())
    sync.gmail_push_verifier = None
    with pytest.raises(WebhookRejected):
        sync.gmail_push("Bearer good-token", push(1))


def test_a_push_whose_data_is_not_gmails_is_invalid_input() -> None:
    for data in ("not base64!", base64.b64encode(b'{"historyId": 1}').decode(), ""):
        with pytest.raises(InvalidInput):
            GmailPush.from_envelope("m", data)


def test_an_expired_cursor_resyncs_everything_without_fetching_or_recording_twice() -> None:
    inbox = FakeInbox()
    sync = mail_sync(inbox)
    inbox.add("m1", "Agenda")
    inbox.add("m2", "Tea", "x" * 1000)
    ident = sync.watch(TENANT, PERSON, "google")
    assert sync.sync(ident) == 2
    inbox.add("m3", "Slides")
    inbox.remove("m1")
    assert sync.sync(ident) == 2  # m3 synced, m1 removed
    inbox.expired = True
    inbox.fetched.clear()

    assert sync.sync(ident) == 0

    assert inbox.fetched == []  # the known messages are not even fetched again
    feed: MailFeed = sync.app.repository.get(ident)
    assert feed.messages == {"m2", "m3"}
    stored: list[Any] = list(sync.app.events.get(ident))
    events = [type(e).__name__ for e in stored]
    assert events[-1] == "FullResyncStarted" and events.count("MailSynced") == 3
    [tea] = [e for e in stored if getattr(e, "message_id", "") == "m2"]
    snippet = sync.vault.open_personal(TENANT, tea.sealed["snippet"], "mail.snippet")
    assert snippet == "x" * 255


# The OIDC check of Pub/Sub's push


AUDIENCE = "https://cairn.example/v1/integrations/webhooks/gmail"
ACCOUNT = "push@cairn.iam.gserviceaccount.com"


def token(key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": ACCOUNT,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def verifier_with(keys: list[RSAKey], fetches: list[int], clock: list[float]) -> GoogleOidcVerifier:
    def certs(request: httpx.Request) -> httpx.Response:
        fetches.append(1)
        return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in keys]})

    http = httpx.Client(transport=httpx.MockTransport(certs))
    return GoogleOidcVerifier(
        "https://www.googleapis.com/oauth2/v3/certs",
        AUDIENCE,
        ACCOUNT,
        http=http,
        clock=lambda: clock[0],
    )


def test_google_keys_are_fetched_once_and_unknown_kids_do_not_cause_a_fetch_each() -> None:
    old = RSAKey.generate_key(2048, parameters={"kid": "old"})
    new = RSAKey.generate_key(2048, parameters={"kid": "new"})
    keys, clock = [old], [time.time()]
    fetches: list[int] = []
    verifier = verifier_with(keys, fetches, clock)
    for _ in range(3):
        verifier.verify(f"Bearer {token(old)}")
    assert len(fetches) == 1
    keys.append(new)  # Google rotates: a push signed with the new key
    with pytest.raises(PushRejected):  # within a minute of the last fetch: not fetched again
        verifier.verify(f"Bearer {token(new)}")
    assert len(fetches) == 1
    clock[0] += 61
    verifier.verify(f"Bearer {token(new)}")
    assert len(fetches) == 2
    for n in range(5):  # forged kids
        stranger = RSAKey.generate_key(2048, parameters={"kid": f"forged-{n}"})
        with pytest.raises(PushRejected):
            verifier.verify(f"Bearer {token(stranger)}")
    assert len(fetches) == 2


def test_the_token_must_be_for_cairns_audience_from_its_service_account() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k"})
    verifier = verifier_with([key], [], [time.time()])
    for claims in (
        {"aud": "https://elsewhere.example/push"},
        {"email": "other@evil.iam.gserviceaccount.com"},
        {"email_verified": False},
        {"iss": "https://evil.example"},
        {"exp": int(time.time()) - 3600},
    ):
        with pytest.raises(PushRejected):
            verifier.verify(f"Bearer {token(key, **claims)}")
    verifier.verify(f"bearer {token(key)}")  # the scheme is case-insensitive


def test_watching_another_mailbox_retires_the_old_one_and_syncs_from_scratch() -> None:
    inbox = FakeInbox()
    sync = mail_sync(inbox)
    inbox.add("m1", "From the first account")
    ident = sync.watch(TENANT, PERSON, "google")
    sync.sync(ident)
    inbox.mailbox = "grace@example.org"  # the person connected another Gmail account
    inbox.remove("m1")
    inbox.add("m9", "From the second account")

    sync.close(TENANT, PERSON, "google", "replaced")  # as an account replacement does
    assert sync.watch(TENANT, PERSON, "google") == ident
    sync.sync(ident)

    assert inbox.asked[-1] is None  # the other mailbox's history id is not asked for
    feed: MailFeed = sync.app.repository.get(ident)
    assert feed.messages == {"m9"}
    assert sync.gmail_push("Bearer good-token", push(99, "p1")) is Verdict.IGNORED
    accepted = sync.gmail_push("Bearer good-token", push(99, "p2", "grace@example.org"))
    assert accepted is Verdict.ACCEPTED


# Opened and closed with the connection (decision 0032)


def names(sync: MailSync, ident: UUID) -> list[str]:
    return [type(e).__name__ for e in sync.app.events.get(ident)]


def test_watching_again_keeps_the_live_channel_sets_its_renewal_again_and_syncs() -> None:
    inbox = FakeInbox()
    sync = mail_sync(inbox)
    ident = sync.watch(TENANT, PERSON, "google")
    timers: MemoryTimers = sync.timers  # type: ignore[assignment]
    [channel] = sync.store.live_channels(ident)
    timers.set.clear()  # fired: a renewal dropped while the grant was dead, the first sync

    assert sync.watch(TENANT, PERSON, "google") == ident

    assert inbox.watches == 1 and sync.store.live_channels(ident) == [channel]
    assert names(sync, ident).count("ChannelOpened") == 1
    assert set(timers.set) == {(MAIL_RENEW, channel.renewal_id), (MAIL_SYNC, ident)}


def test_an_expired_channel_is_opened_again() -> None:
    inbox = FakeInbox()
    sync = mail_sync(inbox)
    ident = sync.watch(TENANT, PERSON, "google")
    real = sync.clock
    sync.clock = lambda: real() + timedelta(days=8)  # past the channel's seven days

    sync.watch(TENANT, PERSON, "google")

    assert inbox.watches == 2 and names(sync, ident).count("ChannelOpened") == 2


def test_closing_stops_and_retires_the_channel_and_forgets_the_cursor() -> None:
    inbox = FakeInbox()
    sync = mail_sync(inbox)
    inbox.add("m1", "Lunch")
    ident = sync.watch(TENANT, PERSON, "google")
    sync.sync(ident)
    [channel] = sync.store.live_channels(ident)

    sync.close(TENANT, PERSON, "google", "disconnected")
    sync.close(TENANT, PERSON, "google", "disconnected")  # a second close changes nothing

    assert inbox.stopped == [channel.channel_id]
    assert sync.store.live_channels(ident) == [] and sync.store.cursor(ident) is None
    assert names(sync, ident).count("FeedClosed") == 1
    feed: MailFeed = sync.app.repository.get(ident)
    assert feed.closed and feed.channel_id is None
    inbox.add("m2", "Tea")
    assert sync.gmail_push("Bearer good-token", push(9, "p9")) is Verdict.IGNORED
    assert sync.sync(ident) == 0  # a sync asked for before the close records nothing
    sync.watch(TENANT, PERSON, "google")  # a reconnect follows the inbox again, in full
    assert sync.sync(ident) == 1 and inbox.asked[-1] is None


def test_a_channel_the_provider_does_not_stop_is_retired_all_the_same() -> None:
    inbox = FakeInbox()
    sync = mail_sync(inbox)
    ident = sync.watch(TENANT, PERSON, "google")
    inbox.stop_fails = True

    sync.close(TENANT, PERSON, "google", "erased")

    assert sync.store.live_channels(ident) == [] and names(sync, ident)[-1] == "FeedClosed"


def test_closing_an_inbox_never_followed_records_nothing() -> None:
    sync = mail_sync(FakeInbox())
    sync.close(TENANT, PERSON, "google", "disconnected")
    assert list(sync.app.events.get(mail_feed_id(TENANT, PERSON, "google"))) == []
