"""What a read action's `StepSucceeded` holds: bounded, and personal text only sealed.

A create answers a `Receipt` (the id of what it made). A read answers what it read, and that
goes into an immutable event: so every list has a fixed bound (the adapters cut and say so with
`truncated`), and text written by or about other people (a mail's sender, subject, snippet) is
stored only as the person's sealed tokens (`Vault.seal_personal`), which erasing the person
shreds, as with synced calendar titles. Busy intervals carry no text and stay plain.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_BUSY = 50  # intervals per calendar
MAX_CALENDARS = 21  # the person's own and 20 attendees (FreeBusy.attendees)
MAX_MESSAGES = 20  # SearchEmail.limit
MAX_SEALED_CHARS = 2_000  # a sealed token of a field cut to a few hundred characters


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(_Result):
    start: AwareDatetime
    end: AwareDatetime


class BusyCalendar(_Result):
    calendar: str = Field(min_length=1, max_length=320)  # "primary" or an attendee's address
    busy: list[Interval] = Field(max_length=MAX_BUSY)
    truncated: bool = False
    # Why the provider could not tell (an attendee's calendar it does not show): not "free".
    error: str | None = Field(default=None, max_length=64)


class FreeBusyResult(_Result):
    calendars: list[BusyCalendar] = Field(max_length=MAX_CALENDARS)


class FoundMessage(_Result):
    id: str = Field(min_length=1, max_length=200)
    thread_id: str | None = Field(default=None, max_length=200)
    received_at: AwareDatetime | None = None
    # "from", "subject", "snippet" sealed for the person; absent where no vault seals them.
    sealed: dict[str, str] = Field(default_factory=dict, max_length=3)


class MailSearchResult(_Result):
    messages: list[FoundMessage] = Field(max_length=MAX_MESSAGES)
    truncated: bool = False
