"""Authenticating a request whose session nothing changed costs no database or event-store
round trip; revocation still ends it: at once in the process that revoked, through the push
feed in another API process, and after CAIRN_AUTH_CACHE_S at the latest (decision 0010)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.jetstream.head import last_position_of
from api.app import create_app
from api.settings import ServiceUrls
from commands.settings import CairnSettings
from tests.support.in_process import Cairn, Person
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def counting(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    calls: list[int] = []
    real: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.fixture
def other_process(cairn_settings: CairnSettings) -> Iterator[Callable[[float], Cairn]]:
    """Another API process on the same stores, with its own cache and push feed."""
    with_cache: list[TestClient] = []

    def start(cache_s: float) -> Cairn:
        s = dataclasses.replace(cairn_settings, auth_cache_s=cache_s)
        urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
        client = TestClient(create_app(urls, settings=s))
        client.__enter__()
        with_cache.append(client)
        return Cairn(client)

    yield start
    for client in with_cache:
        client.__exit__(None, None, None)


def runs(cairn: Cairn, person: Person) -> Any:
    """An authenticated query (after the runs view exists: its projector starts with the API)."""
    return cairn.client.get("/v1/runs", headers=person.headers, params={"after": 0})


def refused_within(cairn: Cairn, person: Person, seconds: float) -> float:
    """How long until the person's token is refused (fails the test after `seconds`)."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        response = runs(cairn, person)
        if response.status_code == 401:
            assert response.json()["error"]["code"] in ("session_revoked", "not_authenticated")
            return time.monotonic() - began
        assert response.status_code == 200, response.text
        time.sleep(0.02)
    pytest.fail(f"still accepted {seconds} s after the revocation")


def test_a_known_session_is_not_checked_again(
    cairn: Cairn, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = cairn.sign_up("cachehit")
    identity = cairn.services.identity
    # The sign-up's own events reach the cache through the feed too, and forget the person
    # (a second check) if they come after the first request: wait until they have come.
    stored = last_position_of(identity.app.recorder)()
    hub = cairn.client.app.state.push.hub  # type: ignore[attr-defined]
    eventually(lambda: stored is not None and hub.position >= stored)
    sessions = counting(monkeypatch, identity.sessions, "check_session_active")
    loads = counting(monkeypatch, identity.app.repository, "get")
    for _ in range(5):
        assert runs(cairn, ada).status_code == 200
    assert (len(sessions), len(loads)) == (1, 1)  # the first request only
    laptop = cairn.log_in(ada.authenticator)  # another session: checked once itself
    assert runs(cairn, laptop).status_code == 200
    assert len(sessions) == 2


def test_logout_ends_a_cached_session_at_once(cairn: Cairn) -> None:
    ada = cairn.sign_up("cachelogout")
    assert runs(cairn, ada).status_code == 200
    assert cairn.client.post("/v1/auth/logout", headers=ada.headers).status_code == 202
    assert runs(cairn, ada).status_code == 401


def test_a_revocation_reaches_another_process_through_its_feed(
    cairn: Cairn, other_process: Callable[[float], Cairn]
) -> None:
    # An hour of cache in the other process: only the event can end the session there.
    other = other_process(3600)
    ada = cairn.sign_up("cachefeed")
    laptop = cairn.log_in(ada.authenticator)
    assert runs(other, laptop).status_code == 200
    revoked = cairn.client.post(
        f"/v1/devices/{laptop.session['device_id']}/revoke", headers=ada.headers
    )
    assert revoked.status_code == 202, revoked.text
    refused_within(other, laptop, 10)
    assert runs(other, ada).status_code == 200


def test_without_any_event_the_cache_ends_a_revoked_session_after_its_ttl(
    cairn: Cairn, other_process: Callable[[float], Cairn]
) -> None:
    other = other_process(1)
    ada = cairn.sign_up("cachettl")
    assert runs(other, ada).status_code == 200
    # Straight in the session store, with no event: as if the event had been lost.
    ended = cairn.services.identity.sessions.revoke_session(
        ada.session["tenant_id"], ada.session["session_id"]
    )
    assert ended
    refused_within(other, ada, 10)
