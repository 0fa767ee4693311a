"""Facts over time: a newer fact supersedes an older one by an event; `as_of` reads valid time,
`known_as_of` reads what was known at a store position; a late fact about the past does not
undo the present."""

from __future__ import annotations

import pytest

from tests.e2e.context.helpers import entity, entity_named, note
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def employer(body: dict[str, object]) -> list[str]:
    facts = body["facts"]
    assert isinstance(facts, list)
    return [f["value"] for f in facts if f["predicate"] == "employer"]


def test_newer_fact_supersedes_and_both_times_answer(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxtime")
    acme = note(cairn, ada, "Sarah works at Acme", valid_from="2023-01-01T00:00:00Z")
    globex = note(cairn, ada, "Sarah joined Globex", valid_from="2024-06-01T00:00:00Z")
    sarah = entity_named(cairn, ada, "Sarah", globex["position"])
    sarah_id = sarah["entity_id"]

    assert employer(sarah) == ["Globex"]
    assert employer(entity(cairn, ada, sarah_id, as_of="2024-01-15T00:00:00Z")) == ["Acme"]
    assert employer(entity(cairn, ada, sarah_id, as_of="2022-06-01T00:00:00Z")) == []
    known_then = entity(cairn, ada, sarah_id, known_as_of=acme["position"])
    assert employer(known_then) == ["Acme"]
    # The old fact is superseded, not deleted: its history shows when it stopped holding.
    history = {f["value"]: f for f in sarah["history"] if f["predicate"] == "employer"}
    assert history["Acme"]["valid_to"] == "2024-06-01T00:00:00+00:00"
    assert history["Globex"]["valid_to"] is None

    late = note(cairn, ada, "Sarah works at Initech", valid_from="2022-01-01T00:00:00Z")
    after_late = entity(cairn, ada, sarah_id, after=late["position"])
    assert employer(after_late) == ["Globex"]
    assert employer(entity(cairn, ada, sarah_id, as_of="2022-06-01T00:00:00Z")) == ["Initech"]
    assert employer(entity(cairn, ada, sarah_id, as_of="2023-06-01T00:00:00Z")) == ["Acme"]


def test_a_merged_name_still_resolves(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxmerge")
    note(cairn, ada, "Sarah is my sister, sarah@family.example")
    last = note(cairn, ada, "Sara is my sister")
    sarah = entity_named(cairn, ada, "Sarah", last["position"])
    sara = entity_named(cairn, ada, "Sara", last["position"])
    merged = cairn.client.post(
        f"/v1/context/entities/{sarah['entity_id']}/merge",
        headers={**ada.headers, "Idempotency-Key": "merge-1"},
        json={"into_entity_id": sara["entity_id"]},
    )
    assert merged.status_code == 202, merged.text
    old_name = entity(cairn, ada, sarah["entity_id"], after=merged.json()["position"])
    assert old_name["entity_id"] == sara["entity_id"]
    assert old_name["aliases"] == ["Sarah"]
    assert {f["value"] for f in old_name["facts"]} == {"sister", "sarah@family.example"}
