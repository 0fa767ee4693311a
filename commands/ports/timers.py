"""Timers: something to do about an aggregate at (or soon after) a given time.

The run engine's escalation expiry is the first; schedules and retries with backoff use the
same port. A timer is only a reminder: what it does is recorded as events, and firing one
twice finds nothing left to do the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

ESCALATION_EXPIRY = "run.escalation_expiry"


@dataclass(frozen=True)
class Timer:
    kind: str
    subject_id: UUID
    tenant_id: UUID
    due_at: datetime


class Timers(Protocol):
    def schedule(self, timer: Timer) -> None:
        """Set the timer of this kind for this subject (again: the same call twice is one)."""

    def fire_due(self, now: datetime, fire: Callable[[Timer], None], limit: int = 50) -> int:
        """Hand each timer due at `now` to `fire`, held so that no other worker fires it
        meanwhile, and remove it once `fire` returns; a timer whose `fire` raised is put off
        (with backoff) and fired again later. Returns how many fired."""

    def next_due(self) -> datetime | None:
        """When the earliest timer is due (None when there is none)."""
