"""The Entity aggregate: supersession by events, withdrawal of a forgotten source, merges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.context.entity import Entity
from domain.errors import InvalidTransition

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()
M1, M2 = uuid.uuid4(), uuid.uuid4()


def at(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def sarah() -> Entity:
    return Entity(uuid.uuid4(), TENANT, "ada", "person", "pii:v1:x", uuid.uuid4(), M1)


def collected(entity: Entity) -> list[Any]:
    return list(entity.collect_events())


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_contradicting_fact_supersedes_by_an_event() -> None:
    entity = sarah()
    entity.record_fact("acme", "employer", "s", uuid.uuid4(), at(2023), M1, "Memory:1")
    entity.record_fact("globex", "employer", "s", uuid.uuid4(), at(2024, 6), M2, "Memory:2")
    events = collected(entity)
    assert names(events) == ["EntityRecognised", "FactRecorded", "FactRecorded", "FactSuperseded"]
    superseded = events[-1]
    assert (superseded.fact_id, superseded.superseded_by) == ("acme", "globex")
    assert superseded.valid_to == at(2024, 6)
    assert entity.facts["acme"].valid_to == at(2024, 6)


def test_the_same_fact_twice_records_nothing() -> None:
    entity = sarah()
    entity.record_fact("acme", "employer", "s", uuid.uuid4(), at(2023), M1, "Memory:1")
    entity.collect_events()
    entity.record_fact("acme", "employer", "s", uuid.uuid4(), at(2023), M1, "Memory:1")
    assert entity.collect_events() == []


def test_withdrawing_a_source_reopens_what_its_facts_closed() -> None:
    entity = sarah()
    entity.record_fact("acme", "employer", "s", uuid.uuid4(), at(2023), M1, "Memory:1")
    entity.record_fact("globex", "employer", "s", uuid.uuid4(), at(2024, 6), M2, "Memory:2")
    entity.collect_events()
    entity.withdraw_source(M2)
    (withdrawn,) = collected(entity)
    assert withdrawn.fact_ids == ["globex"]
    assert withdrawn.revalidated == {"acme": None}
    assert entity.facts["acme"].valid_to is None and "globex" not in entity.facts


def test_a_merged_entity_takes_no_new_facts() -> None:
    entity = sarah()
    entity.merge_into(uuid.uuid4(), "ada")
    with pytest.raises(InvalidTransition):
        entity.record_fact("f", "email", "s", uuid.uuid4(), at(2023), M1, "Memory:1")
