"""The event context reaches the recorder through the library's save, explicitly."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProgrammingError

from adapters.jetstream.recorders import _context
from domain.event_context import SYSTEM_CONTEXT, EventContext

pytestmark = pytest.mark.unit


def test_the_save_hands_the_context_to_the_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Application[UUID]()
    seen: list[Any] = []
    insert = app.recorder.insert_events

    def spy(stored_events: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("context"))
        return insert(stored_events, **kwargs)

    monkeypatch.setattr(app.recorder, "insert_events", spy)
    context = EventContext(tenant="acme", actor="u1", command_id="c1")
    app.save(Aggregate(), context=context)
    app.save(Aggregate())
    assert seen == [context, None]


def test_no_context_is_the_systems_and_a_wrong_one_is_refused() -> None:
    assert EventContext(tenant="system", actor="system") == SYSTEM_CONTEXT
    assert _context({}) is None
    assert _context({"context": SYSTEM_CONTEXT}) is SYSTEM_CONTEXT
    with pytest.raises(ProgrammingError):
        _context({"context": {"tenant": "acme"}})
