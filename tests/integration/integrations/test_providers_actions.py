"""The provider actions beyond creates, per action and per provider, through the executor's
typed handlers against the local Google- and Graph-shaped APIs: an update is a PATCH marked
with the step, a delete of an event already gone is done, free/busy answers every calendar
asked for (one it cannot read says so), a draft is made once, and a search stores ids and times
plain and the words only sealed, within its bounds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.executor import default_registry
from adapters.integrations.providers import MemoryOutbox, ProviderIntegrations
from adapters.integrations.providers.ids import step_marker
from adapters.integrations.providers.microsoft.calendar import STEP_PROPERTY
from adapters.integrations.providers.router import connected_providers
from commands.ports.integrations import ErrorKind, IntegrationError
from tests.support.connection_tokens import FixedTokens
from tests.support.fake_google import FakeGoogle
from tests.support.fake_graph import ADDRESS, FakeGraph

pytestmark = pytest.mark.integration

TOKEN = "ya29.actions-canary-5d1e"
PROVIDERS = ("google", "microsoft")
MEETING = {
    "title": "Meeting with Sarah",
    "start": "2026-12-01T14:00:00Z",
    "end": "2026-12-01T15:00:00Z",
    "attendees": ["sarah@example.com"],
}
DAY = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}
MAIL = {"to": ["sarah@example.com"], "subject": "Tuesday", "body": "See you at 2pm."}
SECRET_WORDS = "the quarterly figures are attached"


def seal(tenant: str, person: str, field: str, value: str) -> str:
    return f"pii:v1:{tenant}:{person}:{field}:{value[::-1]}"  # not plaintext, and checkable


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeGoogle | FakeGraph]]:
    google = FakeGoogle({TOKEN}, deliver=lambda *_: None)
    graph = FakeGraph({TOKEN}, deliver=lambda *_: None)
    google.start()
    graph.start()
    yield {"google": google, "microsoft": graph}
    google.stop()
    graph.stop()


def providers(fakes: dict[str, Any], outbox: MemoryOutbox | None = None) -> ProviderIntegrations:
    urls = {name: fake.base_url for name, fake in fakes.items()}
    tokens = FixedTokens({name: [TOKEN] for name in fakes})
    return connected_providers(urls, tokens, outbox or MemoryOutbox(), seal=seal)


def act(
    integrations: ProviderIntegrations,
    provider: str,
    action: str,
    parameters: dict[str, Any],
    key: str,
) -> dict[str, Any]:
    handler = default_registry().get(action)
    return handler.perform(integrations, "t1", provider, parameters, key, person="ada")


def live(fake: FakeGoogle | FakeGraph) -> dict[str, dict[str, Any]]:
    return fake.live_events()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_update_patches_only_the_fields_given_and_marks_the_step(
    fakes: dict[str, Any], provider: str
) -> None:
    fake, outbox = fakes[provider], MemoryOutbox()
    integrations = providers(fakes, outbox)
    created = act(integrations, provider, "calendar.create_event", MEETING, "k-create")
    changes = {"event_id": created["id"], "start": "2026-12-01T15:00:00Z"}
    changes["end"] = "2026-12-01T16:00:00Z"
    updated = act(integrations, provider, "calendar.update_event", changes, "k-update")
    assert updated["id"] == created["id"]
    event = live(fake)[created["id"]]
    title = event.get("summary") or event.get("subject")
    assert title == "Meeting with Sarah"  # not named, not changed
    assert event["start"]["dateTime"].startswith("2026-12-01T15:00:00")
    marker = step_marker("k-update")
    if provider == "google":
        assert event["extendedProperties"]["private"]["cairnStep"] == marker
    else:
        assert event["singleValueExtendedProperties"] == [{"id": STEP_PROPERTY, "value": marker}]
    # The receipt answers a repeat without a call; a lost receipt sends the same PATCH again.
    patches = fake.calls("PATCH", r".*/events/.*")
    act(integrations, provider, "calendar.update_event", changes, "k-update")
    assert fake.calls("PATCH", r".*/events/.*") == patches
    entry = outbox.entries[("t1", "k-update")]
    outbox.entries[("t1", "k-update")] = type(entry)(entry.reference, entry.attempts)
    assert act(integrations, provider, "calendar.update_event", changes, "k-update") == updated
    assert fake.calls("PATCH", r".*/events/.*") == patches + 1
    assert live(fake)[created["id"]]["start"] == event["start"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_update_of_an_unknown_event_is_refused(fakes: dict[str, Any], provider: str) -> None:
    with pytest.raises(IntegrationError) as caught:
        act(
            providers(fakes),
            provider,
            "calendar.update_event",
            {"event_id": "nosuchevent0", "title": "x"},
            "k",
        )
    assert caught.value.kind is ErrorKind.REJECTED and caught.value.status == 404


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_delete_of_an_event_already_gone_is_done(fakes: dict[str, Any], provider: str) -> None:
    fake, outbox = fakes[provider], MemoryOutbox()
    integrations = providers(fakes, outbox)
    created = act(integrations, provider, "calendar.create_event", MEETING, "k-create")
    first = act(integrations, provider, "calendar.delete_event", {"event_id": created["id"]}, "d")
    assert first["already_gone"] is False and created["id"] not in live(fake)
    # Another step deleting it again (Google: 410 deleted; Graph: 404): the same outcome.
    again = act(integrations, provider, "calendar.delete_event", {"event_id": created["id"]}, "e")
    assert again == {**first, "already_gone": True}
    # The same step after its receipt was lost: done as well, with one more call.
    entry = outbox.entries[("t1", "d")]
    outbox.entries[("t1", "d")] = type(entry)(entry.reference, entry.attempts)
    assert act(integrations, provider, "calendar.delete_event", {"event_id": created["id"]}, "d")


def test_a_google_delete_of_an_id_google_never_had_is_refused(fakes: dict[str, Any]) -> None:
    with pytest.raises(IntegrationError) as caught:
        act(providers(fakes), "google", "calendar.delete_event", {"event_id": "nosuch00"}, "k")
    assert caught.value.kind is ErrorKind.REJECTED and caught.value.status == 404


@pytest.mark.parametrize("provider", PROVIDERS)
def test_free_busy_answers_each_calendar_asked_for(fakes: dict[str, Any], provider: str) -> None:
    fake = fakes[provider]
    integrations = providers(fakes)
    act(integrations, provider, "calendar.create_event", MEETING, "k-create")
    others = fake.other_calendars if provider == "google" else fake.other_schedules
    others["sarah@example.com"] = [("2026-12-01T09:00:00Z", "2026-12-01T10:30:00Z")]
    asked = {**DAY, "attendees": ["sarah@example.com", "nobody@example.com"]}
    result = act(integrations, provider, "calendar.free_busy", asked, "k-read")
    own, sarah, nobody = result["calendars"]
    assert own["calendar"] == "primary" and own.get("error") is None
    assert [(b["start"][11:16], b["end"][11:16]) for b in own["busy"]] == [("14:00", "15:00")]
    assert sarah["calendar"] == "sarah@example.com"
    assert [(b["start"][11:16], b["end"][11:16]) for b in sarah["busy"]] == [("09:00", "10:30")]
    # A calendar the provider does not show is not "free": it says why.
    assert nobody["busy"] == [] and nobody["error"]
    if provider == "microsoft":
        request = [r for r in fake.requests if r.path.endswith("getSchedule")][-1]
        assert request.body["schedules"] == [ADDRESS, "sarah@example.com", "nobody@example.com"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_free_busy_is_bounded(fakes: dict[str, Any], provider: str) -> None:
    fake = fakes[provider]
    others = fake.other_calendars if provider == "google" else fake.other_schedules
    others["busy@example.com"] = [
        (f"2026-12-01T{h:02d}:{m:02d}:00Z", f"2026-12-01T{h:02d}:{m + 10:02d}:00Z")
        for h in range(24)
        for m in (0, 20, 40)
    ]
    asked = {**DAY, "attendees": ["busy@example.com"]}
    busy = act(providers(fakes), provider, "calendar.free_busy", asked, "k")["calendars"][1]
    assert len(busy["busy"]) == 50 and busy["truncated"] is True
    assert busy["busy"][0]["start"][11:16] == "00:00"  # the earliest are kept


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_draft_is_made_once_and_sends_nothing(fakes: dict[str, Any], provider: str) -> None:
    fake, outbox = fakes[provider], MemoryOutbox()
    integrations = providers(fakes, outbox)
    draft = act(integrations, provider, "email.draft", MAIL, "k-draft")
    entry = outbox.entries[("t1", "k-draft")]
    outbox.entries[("t1", "k-draft")] = type(entry)(entry.reference, entry.attempts)
    assert act(integrations, provider, "email.draft", MAIL, "k-draft") == draft
    assert len(fake.messages) == 1
    if provider == "google":
        assert fake.messages[0]["labelIds"] == ["DRAFT"]
    else:
        assert fake.messages[0]["isDraft"] is True and fake.sends == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_search_keeps_ids_and_times_plain_and_the_words_sealed(
    fakes: dict[str, Any], provider: str
) -> None:
    fake = fakes[provider]
    for n in range(3):
        fake.receive(f"boss{n}@example.com", f"Figures {n}", SECRET_WORDS)
    fake.receive("friend@example.com", "Dinner", "see you")
    result = act(providers(fakes), provider, "email.search", {"query": "figures", "limit": 2}, "k")
    assert result["truncated"] is True and len(result["messages"]) == 2
    for found in result["messages"]:
        assert found["id"] and found["received_at"]
        assert set(found["sealed"]) == {"from", "subject", "snippet"}
        snippet = found["sealed"]["snippet"]
        assert snippet.startswith("pii:v1:t1:ada:mail.snippet:")
        assert snippet.endswith(SECRET_WORDS[::-1][-160:])
    assert SECRET_WORDS not in str(result) and "boss" not in str(result)
    # Without a vault to seal them, the words are left out.
    urls = {name: f.base_url for name, f in fakes.items()}
    unsealed = connected_providers(urls, FixedTokens({provider: [TOKEN]}), MemoryOutbox())
    plain = act(unsealed, provider, "email.search", {"query": "figures"}, "k2")
    assert len(plain["messages"]) == 3 and all(m["sealed"] == {} for m in plain["messages"])
