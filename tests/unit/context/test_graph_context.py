"""The planner's context from the graph: contacts and facts relevant to the intent, bounded in
tokens, with the ids of what was given; a context store that is down costs only the context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.llm.context import ClockContextProvider, GraphContextProvider
from commands.ports.context import CurrentFact, Hit
from domain.errors import Unavailable

pytestmark = pytest.mark.unit

CLOCK = ClockContextProvider(clock=lambda: datetime(2026, 12, 6, 9, tzinfo=UTC))
SARAH = [
    CurrentFact("f1", "e1", "Sarah Lee", "relation", "dentist"),
    CurrentFact("f2", "e1", "Sarah Lee", "email", "sarah@smile.example"),
    CurrentFact("f3", "e1", "Sarah Lee", "employer", "Smile Dental"),
]


class FakeSearch:
    def __init__(self, hits: list[Hit], facts: list[CurrentFact], down: bool = False) -> None:
        self.hits, self.facts, self.down = hits, facts, down

    def search(self, tenant_id: uuid.UUID, user_id: str, text: str, **_: Any) -> list[Hit]:
        if self.down:
            raise Unavailable("down", {})
        return self.hits

    def current_facts(
        self, tenant_id: uuid.UUID, user_id: str, entity_ids: Sequence[str]
    ) -> list[CurrentFact]:
        return [f for f in self.facts if f.entity_id in entity_ids]


def context(search: FakeSearch, max_tokens: int = 600) -> Any:
    provider = GraphContextProvider(search, CLOCK, max_tokens=max_tokens)
    return provider.planning_context(tenant_id=uuid.uuid4(), user_id="ada", intent_text="x")


def test_people_become_contacts_and_other_facts_data_lines() -> None:
    hits = [
        Hit("entity", "e1", "Sarah Lee", 0.03, ("name",)),
        Hit("memory", "m1", "Sarah Lee is my dentist", 0.02, ("vector",)),
    ]
    found = context(FakeSearch(hits, SARAH))
    (contact,) = found.contacts
    assert (contact.name, contact.email, contact.relation) == (
        "Sarah Lee",
        "sarah@smile.example",
        "dentist",
    )
    assert found.memories == ("Sarah Lee: employer = Smile Dental", "Sarah Lee is my dentist")
    assert found.given == ("fact:f1", "fact:f2", "fact:f3", "memory:m1")


def test_the_token_budget_bounds_what_is_given() -> None:
    hits = [Hit("memory", f"m{i}", "x" * 400, 0.01, ("vector",)) for i in range(10)]
    found = context(FakeSearch(hits, []), max_tokens=250)
    assert len(found.memories) == 2
    assert found.given == ("memory:m0", "memory:m1")


def test_a_store_that_is_down_leaves_the_clock() -> None:
    found = context(FakeSearch([], [], down=True))
    assert found.contacts == () and found.memories == () and found.given == ()
    assert found.timezone == "UTC"
