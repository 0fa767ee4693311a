"""What a projector declares, and the registry of Cairn's projectors."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.utils import resolve_topic

from projections.engine import projector_registry
from projections.engine.errors import UnknownProjector
from projections.engine.projector_base import (
    Projector,
    Writes,
    handles,
    physical_table,
    tracking_name,
)

pytestmark = pytest.mark.unit


class Base(Projector):
    name = "base_view"
    tables = ("things", "other_things")

    @handles("a:A.Happened", "a:A.AlsoHappened")
    def happened(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(self.sql("INSERT INTO {things} VALUES (%s)"), (position,))


class Derived(Base):
    name = "derived_view"

    @handles("b:B.Happened")
    def other(self, event: Any, position: int, writes: Writes) -> None:
        writes.bulk(self.sql("INSERT INTO {other_things} SELECT * FROM unnest(%b)"), (event,))


def test_handlers_are_collected_by_topic_and_inherited() -> None:
    assert Base.topics == {"a:A.Happened", "a:A.AlsoHappened"}
    assert Derived.topics == {"a:A.Happened", "a:A.AlsoHappened", "b:B.Happened"}
    writes = Writes()
    projector = Derived(4)
    projector.handle("a:A.AlsoHappened", object(), 17, writes)
    projector.handle("b:B.Happened", "x", 18, writes)
    assert writes.statements == [
        ("INSERT INTO things__g4 VALUES (%s)", (17,), False),
        ("INSERT INTO other_things__g4 SELECT * FROM unnest(%b)", ("x",), True),
    ]
    assert projector.tracking_name == "derived_view@g4" == tracking_name("derived_view", 4)


def test_templates_name_only_this_generations_tables() -> None:
    projector = Base(12)
    ddl = "CREATE TABLE {things} (x jsonb DEFAULT '{}', y text DEFAULT '{unknown}')"
    assert projector.expand(ddl) == (
        "CREATE TABLE things__g12 (x jsonb DEFAULT '{}', y text DEFAULT '{unknown}')"
    )
    assert projector.sql("{things}") is projector.sql("{things}")  # cached per template
    assert physical_table("things", 3) == "things__g3"


@pytest.mark.parametrize("name", ["Bad", "with space", "x" * 41, "1st", "semi;colon"])
def test_names_that_are_not_plain_identifiers_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        type("P", (Projector,), {"name": name, "tables": ("ok",)})
    with pytest.raises(ValueError, match="must match"):
        type("P", (Projector,), {"name": "ok", "tables": (name,)})


def test_writes_can_be_cut_back_to_before_a_failed_handler() -> None:
    writes = Writes()
    writes.execute("one")
    writes.execute("two")
    writes.truncate(1)
    assert [q for q, _, _ in writes.statements] == ["one"] and len(writes) == 1


def test_every_handled_topic_is_a_real_domain_event() -> None:
    for cls in projector_registry.PROJECTORS.values():
        assert cls.topics, cls.name
        for topic in cls.topics:
            event_class = resolve_topic(topic)
            assert isinstance(event_class, type), topic


def test_registry_finds_projectors_by_name() -> None:
    assert projector_registry.select("all") == list(projector_registry.PROJECTORS.values())
    assert projector_registry.select("security_events") == [
        projector_registry.get("security_events")
    ]
    with pytest.raises(UnknownProjector, match="directory_users"):
        projector_registry.get("nope")
