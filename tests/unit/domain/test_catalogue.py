"""The event catalogue in docs/ is the one the aggregates give."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.catalogue import aggregates, catalogue, events
from domain.runs.run import Run

pytestmark = pytest.mark.unit

CATALOGUE = Path(__file__).resolve().parents[3] / "docs" / "events.md"


def test_the_committed_catalogue_is_current() -> None:
    assert CATALOGUE.read_text(encoding="utf-8") == catalogue(), (
        "docs/events.md is stale: run `make events` "
        "(.venv/bin/python -m domain.catalogue > docs/events.md) and commit it"
    )


def test_every_event_of_an_aggregate_is_listed_with_its_fields_and_topic() -> None:
    assert Run in aggregates()
    assert [e.__name__ for e in events(Run)][:3] == [
        "IntentSubmitted",
        "PlanProposed",
        "PolicyDecided",
    ]
    text = catalogue()
    assert "| `IntentSubmitted` (creates it) |" in text
    assert "`plan_hash`: `str`<br>`approved_by`: `str`" in text
    assert "`domain.runs.run:Run.EscalationApproved`" in text
