"""The built-in handlers: one per catalogue action, with its timeout and retry policy."""

from __future__ import annotations

from typing import Any

from adapters.executor.registry import ActionRegistry, TypedHandler
from adapters.executor.results import FreeBusyResult, MailSearchResult
from commands.ports.integrations import RetryPolicy
from domain.runs.actions import (
    CATALOGUE,
    CreateCalendarEvent,
    CreateNote,
    CreateReminder,
    DeleteCalendarEvent,
    DraftEmail,
    FreeBusy,
    SearchEmail,
    SendEmail,
    SendPayment,
    UpdateCalendarEvent,
)

# Interactive actions answer fast or not at all: a short timeout and a few quick retries keep
# a run from hanging on one provider. Every retry carries the step's idempotency key.
QUICK = RetryPolicy(attempts=3, initial_backoff=0.5, multiplier=2.0, max_backoff=5.0)
# Mail and payment providers are slower under load and often answer 429/503 for a while;
# waiting longer between fewer attempts is kinder to them and just as safe.
PATIENT = RetryPolicy(attempts=4, initial_backoff=1.0, multiplier=3.0, max_backoff=30.0)

CREATE_CALENDAR_EVENT = TypedHandler(
    CATALOGUE["calendar.create_event"], CreateCalendarEvent, timeout=10.0, retry=QUICK
)
UPDATE_CALENDAR_EVENT = TypedHandler(
    CATALOGUE["calendar.update_event"], UpdateCalendarEvent, timeout=10.0, retry=QUICK
)
DELETE_CALENDAR_EVENT = TypedHandler(
    CATALOGUE["calendar.delete_event"], DeleteCalendarEvent, timeout=10.0, retry=QUICK
)
FREE_BUSY = TypedHandler(
    CATALOGUE["calendar.free_busy"], FreeBusy, timeout=10.0, retry=QUICK, result=FreeBusyResult
)
DRAFT_EMAIL = TypedHandler(CATALOGUE["email.draft"], DraftEmail, timeout=15.0, retry=PATIENT)
SEARCH_EMAIL = TypedHandler(
    CATALOGUE["email.search"], SearchEmail, timeout=15.0, retry=QUICK, result=MailSearchResult
)
SEND_EMAIL = TypedHandler(CATALOGUE["email.send"], SendEmail, timeout=15.0, retry=PATIENT)
CREATE_REMINDER = TypedHandler(
    CATALOGUE["reminders.create"], CreateReminder, timeout=5.0, retry=QUICK
)
CREATE_NOTE = TypedHandler(CATALOGUE["notes.create"], CreateNote, timeout=5.0, retry=QUICK)
SEND_PAYMENT = TypedHandler(CATALOGUE["payments.send"], SendPayment, timeout=30.0, retry=PATIENT)

BUILT_IN: tuple[TypedHandler[Any], ...] = (
    CREATE_CALENDAR_EVENT,
    UPDATE_CALENDAR_EVENT,
    DELETE_CALENDAR_EVENT,
    FREE_BUSY,
    SEND_EMAIL,
    DRAFT_EMAIL,
    SEARCH_EMAIL,
    CREATE_REMINDER,
    CREATE_NOTE,
    SEND_PAYMENT,
)


def default_registry() -> ActionRegistry:
    """Every catalogue action with its built-in handler."""
    registry = ActionRegistry(BUILT_IN)
    # A catalogue action without a handler would be approved by the policy and then fail at
    # execution; catch that at start instead.
    missing = set(CATALOGUE) - set(registry)
    if missing:
        raise RuntimeError(f"catalogue actions without a handler: {sorted(missing)}")
    return registry
