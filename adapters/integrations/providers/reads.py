"""What read actions answer, shaped alike for every provider and bounded
(adapters/executor/results.py): busy intervals per calendar, found messages with their personal
text sealed for the person, or left out where nothing seals it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from adapters.executor.results import MAX_BUSY
from commands.ports.integrations import ErrorKind, IntegrationError

# (tenant, person, field, value) -> a sealed token (`Vault.seal_personal`, the person the subject)
Seal = Callable[[str, str, str, str], str]

SNIPPET_CHARS = 160
SUBJECT_CHARS = 200
SENDER_CHARS = 320
_ERROR_CHARS = 64


@contextmanager
def reading(provider: str, action: str) -> Iterator[None]:
    """An answer of an unexpected shape is the provider's `BAD_RESPONSE`, not a crash (a read
    asked again gets the same answer: not retried)."""
    try:
        yield
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise IntegrationError(
            ErrorKind.BAD_RESPONSE,
            f"{provider} answered {action} in an unexpected shape ({type(exc).__name__})",
            provider=provider,
            action=action,
        ) from exc


def instant(value: str, zone: str | None = None) -> datetime:
    """An ISO instant; one without an offset is in `zone` (Graph writes UTC as
    `{"dateTime": "...", "timeZone": "UTC"}`)."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        if zone not in (None, "UTC"):
            raise ValueError(f"unexpected time zone {zone!r}")
        moment = moment.replace(tzinfo=UTC)
    return moment


def busy_calendar(
    calendar: str, intervals: Iterable[tuple[datetime, datetime]], error: str | None = None
) -> dict[str, Any]:
    """One calendar's busy intervals in time order, cut at `MAX_BUSY`. A calendar the provider
    could not read says why (`error`), so an empty list never reads as "free"."""
    ordered = sorted(intervals)
    shown: dict[str, Any] = {
        "calendar": calendar[:320],
        "busy": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in ordered[:MAX_BUSY]],
        "truncated": len(ordered) > MAX_BUSY,
    }
    if error is not None:
        shown["error"] = error[:_ERROR_CHARS]
    return shown


def found_message(
    seal: Seal | None,
    tenant: str,
    person: str,
    *,
    message_id: str,
    thread_id: str | None,
    received_at: datetime | None,
    sender: str | None,
    subject: str | None,
    snippet: str | None,
) -> dict[str, Any]:
    """A message as a search result stores it: ids and time plain, the words sealed."""
    sealed: dict[str, str] = {}
    if seal is not None:
        for name, text, cut in (
            ("from", sender, SENDER_CHARS),
            ("subject", subject, SUBJECT_CHARS),
            ("snippet", snippet, SNIPPET_CHARS),
        ):
            if text:
                sealed[name] = seal(tenant, person, f"mail.{name}", text[:cut])
    return {
        "id": message_id[:200],
        "thread_id": thread_id[:200] if thread_id else None,
        "received_at": received_at.isoformat() if received_at else None,
        "sealed": sealed,
    }
