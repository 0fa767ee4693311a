"""Noting, searching, correcting and forgetting memories through the API."""

from __future__ import annotations

import pytest

from tests.e2e.context.helpers import entity_named, note, search
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def test_a_noted_person_is_found_with_their_email_and_relation(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxnote")
    noted = note(cairn, ada, "Sarah Lee is my dentist, sarah@smile.example")
    hits = search(cairn, ada, "dentist", after=noted["position"])
    assert hits[0]["kind"] == "memory" and hits[0]["id"] == noted["memory_id"]
    sarah = entity_named(cairn, ada, "Sarah Lee", noted["position"])
    facts = {f["predicate"]: f["value"] for f in sarah["facts"]}
    assert facts == {"relation": "dentist", "email": "sarah@smile.example"}
    assert all(f["source_memory_id"] == noted["memory_id"] for f in sarah["facts"])
    assert [m["memory_id"] for m in sarah["memories"]] == [noted["memory_id"]]


def test_another_person_never_sees_my_memories(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxmine")
    eve = cairn.sign_up("ctxother", email="eve@example.com", name="Eve")
    noted = note(cairn, ada, "Sarah Lee is my dentist, sarah@smile.example")
    assert search(cairn, eve, "Sarah dentist", after=noted["position"]) == []
    listed = cairn.client.get("/v1/context/memories", headers=eve.headers).json()
    assert listed["items"] == []
