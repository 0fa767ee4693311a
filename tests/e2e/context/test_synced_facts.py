"""A synced calendar event teaches Cairn its attendees by a deterministic rule: each is a
person with an e-mail address, no model asked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from commands.base import Caller, Issued
from commands.context.notes import RecordSyncedCalendarEvent
from domain.context.synced import Attendee, SyncedCalendarEvent
from tests.e2e.context.helpers import entity_named
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def test_calendar_attendees_become_people_with_email(cairn: Cairn) -> None:
    ada = cairn.sign_up("ctxsynced")
    caller = Caller(tenant_id=uuid.UUID(ada.session["tenant_id"]), user_id=ada.session["user_id"])
    event = SyncedCalendarEvent(
        provider="google",
        event_id="evt42",
        title="Check-up",
        starts_at=datetime(2026, 12, 8, 9, tzinfo=UTC),
        attendees=(
            Attendee(email="ada@example.com", is_self=True),
            Attendee(email="sarah@smile.example", name="Sarah Lee"),
        ),
    )
    command = RecordSyncedCalendarEvent(event=event)
    result = cairn.services.commands.dispatch(
        command, Issued(caller=caller, command_id=uuid.uuid4().hex)
    )
    assert result.position is not None
    sarah = entity_named(cairn, ada, "Sarah Lee", result.position)
    facts = {(f["predicate"], f["value"]) for f in sarah["facts"]}
    assert ("email", "sarah@smile.example") in facts
    assert any(p == "appointment" and v.startswith("Check-up") for p, v in facts)
    assert all(f["source_event"] == "google:calendar:evt42" for f in sarah["facts"])
