"""Shared steps of the context e2e tests: note, search, read an entity, through the API; wait
for the learner; check that a redelivered synced fact teaches nothing more."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from commands.application import CairnApplication
from tests.support.in_process import Cairn, Person
from tests.support.waiting import eventually as eventually  # the wait the context tests use


def note(cairn: Cairn, person: Person, text: str, **extra: Any) -> dict[str, Any]:
    answer = cairn.client.post(
        "/v1/context/memories",
        headers={**person.headers, "Idempotency-Key": uuid.uuid4().hex},
        json={"text": text, **extra},
    )
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


def search(cairn: Cairn, person: Person, q: str, **params: Any) -> list[dict[str, Any]]:
    answer = cairn.client.get(
        "/v1/context/search", headers=person.headers, params={"q": q, **params}
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def entity(cairn: Cairn, person: Person, entity_id: str, **params: Any) -> dict[str, Any]:
    answer = cairn.client.get(
        f"/v1/context/entities/{entity_id}", headers=person.headers, params=params
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def entity_named(cairn: Cairn, person: Person, name: str, after: int) -> dict[str, Any]:
    hits = search(cairn, person, name, after=after)
    found = [h for h in hits if h["kind"] == "entity" and h["text"] == name]
    assert found, hits
    return entity(cairn, person, found[0]["id"])


def first_entity(cairn: Cairn, person: Person, q: str) -> dict[str, Any] | None:
    hits = [h for h in search(cairn, person, q) if h["kind"] == "entity"]
    return entity(cairn, person, hits[0]["id"]) if hits else None


def redelivery_teaches_nothing(
    cairn: Cairn, feeds: CairnApplication, feed_id: UUID, synced: str, memory_id: UUID
) -> None:
    """The feed recorded one `synced` event, noted as `memory_id` that taught once; learning
    from that event again records nothing."""
    stored = feeds.recorder.select_events(feed_id)
    [event] = [e for e in stored if e.topic.endswith(f".{synced}")]
    recorder = cairn.services.context.app.recorder
    before = recorder.max_notification_id()
    assert len(recorder.select_events(memory_id)) == 2  # noted, and what it taught
    assert cairn.worker is not None
    assert cairn.worker.learning.learn(synced, feed_id, event.originator_version) is None
    assert recorder.max_notification_id() == before
