"""Shared steps of the context e2e tests: note, search, read an entity, through the API."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.in_process import Cairn, Person


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
