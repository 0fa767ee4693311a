"""The Google and Graph adapters against the local provider-shaped APIs: creates happen once
per step whatever the retries, rate limits follow the provider's own signals, a rejected token
is replaced once, a dead connection needs the person, and no token leaks into an error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.integrations.providers.google import GoogleAdapter
from adapters.integrations.providers.ids import google_event_id, message_id
from adapters.integrations.providers.microsoft import GraphAdapter
from adapters.integrations.providers.outbox import MemoryOutbox
from commands.ports.integrations import ErrorKind, IntegrationError
from tests.support.connection_tokens import FixedTokens
from tests.support.fake_google import FakeGoogle
from tests.support.fake_graph import FakeGraph
from tests.support.fake_provider_api import Answer

TOKEN = "ya29.canary-access-token-7f3a"  # a canary: checked for leaks
NEXT = "ya29.canary-second-token-91bc"
MEETING = {
    "title": "Meeting with Sarah",
    "start": "2026-12-01T14:00:00Z",
    "end": "2026-12-01T15:00:00Z",
    "attendees": ["sarah@example.com"],
    "location": None,
}
MAIL = {"to": ["sarah@example.com"], "subject": "Tuesday", "body": "See you at 2pm."}


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    fake = FakeGoogle({TOKEN}, deliver=lambda *_: None)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph({TOKEN}, deliver=lambda *_: None)
    fake.start()
    yield fake
    fake.stop()


def adapter(fake: FakeGoogle | FakeGraph, tokens: FixedTokens | None = None) -> Any:
    kind = GoogleAdapter if isinstance(fake, FakeGoogle) else GraphAdapter
    provider = "google" if isinstance(fake, FakeGoogle) else "microsoft"
    return kind(fake.base_url, tokens or FixedTokens({provider: [TOKEN]}), MemoryOutbox())


def perform(a: Any, action: str, parameters: dict[str, Any], key: str = "k1") -> dict[str, Any]:
    result: dict[str, Any] = a.perform("t1", "ada", action, parameters, key, timeout=5.0)
    return result


def no_canary(error: IntegrationError) -> None:
    assert TOKEN not in str(error) and NEXT not in str(error) and TOKEN not in repr(error)


def test_google_event_id_is_valid_base32hex_and_stable() -> None:
    ident = google_event_id("k1")
    assert ident == google_event_id("k1") != google_event_id("k2")
    assert 5 <= len(ident) <= 1024 and set(ident) <= set("0123456789abcdefghijklmnopqrstuv")


def test_google_create_retried_after_the_provider_created_reads_back_instead(
    google: FakeGoogle,
) -> None:
    a = adapter(google)
    first = perform(a, "calendar.create_event", MEETING)
    # The receipt was never stored (the worker died after Google answered): a new outbox.
    again = adapter(google)
    second = perform(again, "calendar.create_event", MEETING)
    assert first == second == {"id": google_event_id("k1"), "calendar": "primary"}
    assert google.inserts == 1 and list(google.live_events()) == [google_event_id("k1")]
    assert google.calls("POST", r".*/events") == 2  # the second met 409 duplicate
    assert google.calls("GET", r".*/events/" + google_event_id("k1")) == 1


def test_google_duplicate_id_holding_another_event_is_refused(google: FakeGoogle) -> None:
    perform(adapter(google), "calendar.create_event", MEETING)
    with pytest.raises(IntegrationError) as caught:
        perform(adapter(google), "calendar.create_event", {**MEETING, "title": "Other"})
    assert caught.value.kind is ErrorKind.REJECTED and caught.value.status == 409


def test_google_outbox_receipt_answers_a_repeat_without_a_call(google: FakeGoogle) -> None:
    a = adapter(google)
    perform(a, "calendar.create_event", MEETING)
    before = len(google.requests)
    perform(a, "calendar.create_event", MEETING)
    assert len(google.requests) == before


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (403, "rateLimitExceeded", ErrorKind.RATE_LIMITED),
        (403, "userRateLimitExceeded", ErrorKind.RATE_LIMITED),
        (429, "rateLimitExceeded", ErrorKind.RATE_LIMITED),
        (403, "forbidden", ErrorKind.REJECTED),  # a 403 is a rate limit only by its reason
        (503, "backendError", ErrorKind.SERVER_ERROR),
    ],
)
def test_google_errors_follow_the_reason_not_the_status(
    google: FakeGoogle, status: int, reason: str, kind: ErrorKind
) -> None:
    google.fault_next(google.error(status, reason, f"secret {TOKEN} echoed"))
    with pytest.raises(IntegrationError) as caught:
        perform(adapter(google), "calendar.create_event", MEETING)
    assert caught.value.kind is kind and caught.value.message == f"HTTP {status} ({reason})"
    no_canary(caught.value)
    assert google.inserts == 0


def test_graph_retry_after_is_handed_to_the_executor(graph: FakeGraph) -> None:
    graph.throttle_next(retry_after=7)
    with pytest.raises(IntegrationError) as caught:
        perform(adapter(graph), "calendar.create_event", MEETING)
    assert caught.value.kind is ErrorKind.RATE_LIMITED and caught.value.retry_after == 7.0
    assert caught.value.retryable


def test_a_rejected_token_is_replaced_once(google: FakeGoogle) -> None:
    google.tokens = {NEXT}  # the provider revoked the first token
    tokens = FixedTokens({"google": [TOKEN, NEXT]})
    assert perform(adapter(google, tokens), "calendar.create_event", MEETING)["id"]
    assert tokens.rejections == 1 and google.inserts == 1


def test_a_second_401_is_not_retried_again(google: FakeGoogle) -> None:
    google.tokens = set()
    tokens = FixedTokens({"google": [TOKEN, NEXT]})
    with pytest.raises(IntegrationError) as caught:
        perform(adapter(google, tokens), "calendar.create_event", MEETING)
    assert caught.value.status == 401 and tokens.rejections == 1
    assert len(google.requests) == 2
    no_canary(caught.value)


@pytest.mark.parametrize("dead", [True, False])
def test_a_missing_or_dead_connection_needs_the_person(google: FakeGoogle, dead: bool) -> None:
    tokens = FixedTokens({"google": [TOKEN]} if dead else {}, dead={"google"} if dead else None)
    with pytest.raises(IntegrationError) as caught:
        perform(adapter(google, tokens), "calendar.create_event", MEETING)
    assert caught.value.kind is ErrorKind.NEEDS_PERSON and not caught.value.retryable
    code = "reauth_required" if dead else "connection_missing"
    assert caught.value.message.startswith(code)
    assert google.requests == []


def test_gmail_send_after_a_lost_receipt_searches_and_sends_once(google: FakeGoogle) -> None:
    outbox = MemoryOutbox()
    a = GoogleAdapter(google.base_url, FixedTokens({"google": [TOKEN]}), outbox)
    first = perform(a, "email.send", MAIL)
    # The answer was lost before the receipt was stored: the outbox knows only the attempt.
    entry = outbox.entries[("t1", "k1")]
    outbox.entries[("t1", "k1")] = type(entry)(entry.reference, entry.attempts)
    second = perform(a, "email.send", MAIL)
    assert first == second and first["message_id"] == message_id("k1")
    assert [m["message_id"] for m in google.messages] == [message_id("k1")]


def test_gmail_draft_after_a_lost_receipt_is_found_not_made_again(google: FakeGoogle) -> None:
    outbox = MemoryOutbox()
    a = GoogleAdapter(google.base_url, FixedTokens({"google": [TOKEN]}), outbox)
    draft = perform(a, "email.draft", MAIL)
    entry = outbox.entries[("t1", "k1")]
    outbox.entries[("t1", "k1")] = type(entry)(entry.reference, entry.attempts)
    assert perform(a, "email.draft", MAIL)["id"] == draft["id"]
    assert [m["labelIds"] for m in google.messages] == [["DRAFT"]]


def test_graph_create_is_deduplicated_by_transaction_id(graph: FakeGraph) -> None:
    first = perform(adapter(graph), "calendar.create_event", MEETING)
    second = perform(adapter(graph), "calendar.create_event", MEETING)
    assert first == second and graph.creates == 1


def test_graph_409_reads_back_by_transaction_id(graph: FakeGraph) -> None:
    first = perform(adapter(graph), "calendar.create_event", MEETING)
    graph.fault_next(Answer(409, {"error": {"code": "ErrorDuplicateTransactionId"}}))
    assert perform(adapter(graph), "calendar.create_event", MEETING) == first
    assert graph.creates == 1


def test_graph_send_after_a_lost_receipt_sends_once(graph: FakeGraph) -> None:
    outbox = MemoryOutbox()
    a = GraphAdapter(graph.base_url, FixedTokens({"microsoft": [TOKEN]}), outbox)
    perform(a, "email.send", MAIL)
    entry = outbox.entries[("t1", "k1")]
    outbox.entries[("t1", "k1")] = type(entry)(entry.reference, entry.attempts)
    perform(a, "email.send", MAIL)
    assert graph.sends == 1 and len(graph.messages) == 1


def test_graph_send_finishes_a_draft_left_by_a_dead_attempt(graph: FakeGraph) -> None:
    outbox = MemoryOutbox()
    a = GraphAdapter(graph.base_url, FixedTokens({"microsoft": [TOKEN]}), outbox)
    # The first attempt created the draft and died before sending it.
    outbox.begin("t1", "k1", "microsoft", "email.send", message_id("k1"))
    perform(a, "email.draft", MAIL, key="k1-draft")
    graph.messages[0]["internetMessageId"] = message_id("k1")
    perform(a, "email.send", MAIL)
    assert graph.sends == 1 and len(graph.messages) == 1
