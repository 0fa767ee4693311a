"""The catalogue of actions a plan may name, each with typed parameters.

A model can only propose; anything not in this catalogue, or with parameters that do not
validate, is rejected before any policy or executor sees it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.errors import InvalidInput


class Parameters(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CreateCalendarEvent(Parameters):
    title: str = Field(min_length=1, max_length=200)
    start: datetime
    end: datetime
    attendees: list[str] = Field(default_factory=list, max_length=50)
    location: str | None = Field(default=None, max_length=200)


class SendEmail(Parameters):
    to: list[str] = Field(min_length=1, max_length=50)
    subject: str = Field(max_length=300)
    body: str = Field(max_length=20_000)


# A provider's event id, one URL path segment once quoted: Google's base32hex ids (recurring
# instances add `_<time>Z`), Graph's base64 ids. It starts with a letter or digit, so no `..`
# can climb out of the events collection.
EVENT_ID = r"^[A-Za-z0-9][A-Za-z0-9_=+/.-]{0,1023}$"
# Longest window a free/busy read may cover (Google refuses much longer ones).
MAX_FREE_BUSY_DAYS = 31


class UpdateCalendarEvent(Parameters):
    """Only the fields given change (a PATCH); `attendees`, when given, replaces the list."""

    event_id: str = Field(pattern=EVENT_ID)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    attendees: list[str] | None = Field(default=None, max_length=50)
    location: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateCalendarEvent:
        if all(value is None for name, value in self if name != "event_id"):
            raise ValueError("an update changes at least one field")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class DeleteCalendarEvent(Parameters):
    event_id: str = Field(pattern=EVENT_ID)


class FreeBusy(Parameters):
    """When the person is busy between `start` and `end`, and the given attendees too."""

    start: AwareDatetime
    end: AwareDatetime
    attendees: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _a_bounded_window(self) -> FreeBusy:
        if not 0 < (self.end - self.start).total_seconds() <= MAX_FREE_BUSY_DAYS * 86_400:
            raise ValueError(f"end must be after start, at most {MAX_FREE_BUSY_DAYS} days later")
        return self


class DraftEmail(SendEmail):
    """A draft in the person's mailbox: nothing is sent."""


class SearchEmail(Parameters):
    query: str = Field(min_length=1, max_length=200)
    limit: int = Field(default=10, ge=1, le=20)


class CreateReminder(Parameters):
    text: str = Field(min_length=1, max_length=500)
    due: datetime


class CreateNote(Parameters):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=50_000)


class SendPayment(Parameters):
    recipient: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    memo: str | None = Field(default=None, max_length=200)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    parameters: type[Parameters]
    description: str
    # The capability a user must hold for the action; an amount-limited one is checked
    # against `amount_field`.
    capability: str
    amount_field: str | None = None
    recipients_field: str | None = None
    # Once done it cannot be taken back (money or a message sent): MCP tools announce it as
    # destructive (commands/mcp/tools.py).
    irreversible: bool = False


CATALOGUE: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "calendar.create_event",
            CreateCalendarEvent,
            "Create a calendar event",
            "calendar.write",
            recipients_field="attendees",
        ),
        ActionSpec(
            "email.send",
            SendEmail,
            "Send an email",
            "email.send",
            recipients_field="to",
            irreversible=True,
        ),
        ActionSpec(
            "calendar.update_event",
            UpdateCalendarEvent,
            "Change an existing calendar event (only the fields given)",
            "calendar.write",
            recipients_field="attendees",
        ),
        ActionSpec(
            "calendar.delete_event",
            DeleteCalendarEvent,
            "Delete (cancel) a calendar event",
            "calendar.write",
            # Attendees are told it is cancelled: that cannot be taken back.
            irreversible=True,
        ),
        ActionSpec(
            "calendar.free_busy",
            FreeBusy,
            "Read when the person, and the given attendees, are busy",
            "calendar.read",
        ),
        ActionSpec(
            "email.draft",
            DraftEmail,
            "Write an email draft in the person's mailbox (nothing is sent)",
            "email.draft",
            recipients_field="to",
        ),
        ActionSpec(
            "email.search",
            SearchEmail,
            "Search the person's mail",
            "email.read",
        ),
        ActionSpec("reminders.create", CreateReminder, "Create a reminder", "reminders.write"),
        ActionSpec("notes.create", CreateNote, "Create a note", "notes.write"),
        ActionSpec(
            "payments.send",
            SendPayment,
            "Send a payment",
            "payments.up_to",
            amount_field="amount",
            recipients_field="recipient",
            irreversible=True,
        ),
    )
}


class UnknownAction(InvalidInput):
    code = "unknown_action"


class InvalidParameters(InvalidInput):
    code = "invalid_action_parameters"


# Tools of a person's upstream MCP servers (decision 0035) are actions defined at run time,
# named "mcp.<server id>.<tool name>". The policy decides every one of them as the one Cedar
# action `mcp.call` on an `McpTool` entity of its own; commands/mcp checks their arguments
# against the tool's pinned input schema (the domain only bounds their size).
UPSTREAM_ACTION = "mcp.call"
UPSTREAM_ARGUMENTS_MAX_CHARS = 20_000
_UPSTREAM_NAME = re.compile(r"^mcp\.([0-9a-f]{32})\.([^\x00-\x1f\x7f]{1,128})$")


class UpstreamArguments(Parameters):
    """An upstream tool's arguments as given: their schema is the upstream's, pinned."""

    model_config = ConfigDict(frozen=True, extra="allow")


def upstream_action(server_id: str, tool: str) -> str:
    return f"mcp.{server_id}.{tool}"


def parse_upstream_action(action: str) -> tuple[str, str] | None:
    """(server id, tool name) of an upstream tool's action name; None for any other name."""
    found = _UPSTREAM_NAME.match(action)
    return None if found is None else (found.group(1), found.group(2))


def policy_action(action: str) -> str:
    """The Cedar action that decides `action`."""
    return UPSTREAM_ACTION if parse_upstream_action(action) else action


def validate_parameters(action: str, parameters: dict[str, Any]) -> Parameters:
    if parse_upstream_action(action) is not None:
        size = len(json.dumps(parameters, default=str))
        if size > UPSTREAM_ARGUMENTS_MAX_CHARS:
            raise InvalidParameters(
                f"arguments of {action!r} are too large", {"action": action, "chars": size}
            )
        return UpstreamArguments.model_validate(parameters)
    spec = CATALOGUE.get(action)
    if spec is None:
        raise UnknownAction(
            f"unknown action {action!r}", {"action": action, "known": sorted(CATALOGUE)}
        )
    try:
        return spec.parameters.model_validate(parameters)
    except ValidationError as exc:
        problems = [{"location": list(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise InvalidParameters(
            f"parameters of {action!r} are invalid", {"action": action, "errors": problems}
        ) from exc
