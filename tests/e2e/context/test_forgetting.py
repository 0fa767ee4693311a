"""Forgetting survives a rebuild, and rebuilds are deterministic.

Forget a memory, drop every generation of the view and replay the store from position 1: its
text is in no table, its vector is gone, search never returns it, the event store holds only
its sealed copy (which opens as [erased]), and every other row is unchanged."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from commands.settings import CairnSettings
from domain.context.memory import Memory, memory_subject
from projections.engine.projector_base import Writes
from projections.views.context.projector import Context
from tests.e2e.context.helpers import note, search
from tests.e2e.context.rebuilds import (
    active_generation,
    checksum,
    drop_generation,
    rebuild,
    tables_holding,
)
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e

SECRET = "Quillon Ravensworth is my therapist, quillon@mind.example"


def test_a_forgotten_memory_does_not_come_back_in_a_rebuild(
    cairn: Cairn, cairn_settings: CairnSettings
) -> None:
    ada = cairn.sign_up("ctxforget")
    url = cairn_settings.database_url
    kept = note(cairn, ada, "Sarah Lee is my dentist, sarah@smile.example")
    secret = note(cairn, ada, SECRET)
    last = note(cairn, ada, "The office is on the third floor")
    # After the last note's position: the view has all three (read-your-writes).
    hits = search(cairn, ada, "therapist", after=last["position"])
    assert any(h["id"] == secret["memory_id"] for h in hits)
    before_forget = checksum(url, active_generation(url))

    forgotten = cairn.client.delete(
        f"/v1/context/memories/{secret['memory_id']}",
        headers={**ada.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert forgotten.status_code == 202, forgotten.text
    position = forgotten.json()["position"]
    hits = search(cairn, ada, "therapist Quillon", after=position)
    assert all(h["id"] != secret["memory_id"] and "Quillon" not in h["text"] for h in hits)

    old = active_generation(url)
    new = rebuild(cairn_settings)
    drop_generation(url, old)
    assert active_generation(url) == new
    for fragment in ("Quillon", "quillon@mind.example", "therapist"):
        assert tables_holding(url, fragment) == [], fragment
    with psycopg.connect(url) as conn:
        vectors = conn.execute(
            "SELECT count(*) FROM context_payloads WHERE subject = %s",
            (memory_subject(secret["memory_id"]),),
        ).fetchone()
    assert vectors == (0,)
    for query in ("therapist Quillon", "who helps with my mind", "quillon@mind.example"):
        hits = search(cairn, ada, query)
        assert all(h["id"] != secret["memory_id"] and "Quillon" not in h["text"] for h in hits)
    # The others are as they were.
    hits = search(cairn, ada, "dentist")
    assert hits[0]["id"] == kept["memory_id"]
    assert checksum(url, new) != before_forget  # the forgotten rows are gone...
    again = rebuild(cairn_settings)
    assert checksum(url, again) == checksum(url, new)  # ...and rebuilds agree
    # The event store keeps only the sealed text, which no longer opens.
    app = cairn.services.context.app
    stored = app.recorder.select_events(uuid.UUID(secret["memory_id"]))
    assert stored and all(b"Quillon" not in s.state for s in stored)
    memory: object = app.repository.get(uuid.UUID(secret["memory_id"]))
    assert isinstance(memory, Memory) and memory.forgotten


def test_two_rebuilds_agree_and_a_redelivered_event_adds_nothing(
    cairn: Cairn, cairn_settings: CairnSettings
) -> None:
    ada = cairn.sign_up("ctxdeterm")
    url = cairn_settings.database_url
    note(cairn, ada, "Sarah works at Acme", valid_from="2023-01-01T00:00:00Z")
    note(cairn, ada, "Sarah joined Globex", valid_from="2024-06-01T00:00:00Z")
    first = note(cairn, ada, "Tom Baker is my plumber, tom@pipes.example")
    search(cairn, ada, "plumber", after=first["position"])
    one, two = rebuild(cairn_settings), rebuild(cairn_settings)
    assert checksum(url, one) == checksum(url, two)

    # Every event of the store applied once more to the active generation changes nothing.
    active = active_generation(url)
    before = checksum(url, active)
    projector = Context(active)
    writes = Writes()
    app = cairn.services.context.app
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        if notification.topic in Context.topics:
            event = app.mapper.to_domain_event(notification)
            projector.handle(notification.topic, event, notification.id, writes)
    assert len(writes) > 0
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SET LOCAL ROLE cairn_owner")
        for query, params, _ in writes.statements:
            conn.execute(query, params)
    assert checksum(url, active) == before
