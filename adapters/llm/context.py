"""Context providers until the context graph fills `PlanningContext` for real.

`ClockContextProvider` gives just the person's local time (from a clock and a timezone), which
is the least a planner needs to resolve "tomorrow". `FixedContextProvider` returns one given
context (tests, demos).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from commands.ports.planner import PlanningContext


class FixedContextProvider:
    """Implements `commands.ports.planner.ContextProvider` with one fixed context."""

    def __init__(self, context: PlanningContext) -> None:
        self._context = context

    def planning_context(
        self, *, tenant_id: UUID, user_id: str, intent_text: str
    ) -> PlanningContext:
        return self._context


class ClockContextProvider:
    """Local time only, in the user's timezone (from `timezones`, else `default_timezone`)."""

    def __init__(
        self,
        timezones: Mapping[str, str] | None = None,
        default_timezone: str = "UTC",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._timezones = dict(timezones or {})
        self._default_timezone = default_timezone
        self._clock = clock

    def planning_context(
        self, *, tenant_id: UUID, user_id: str, intent_text: str
    ) -> PlanningContext:
        timezone = self._timezones.get(user_id, self._default_timezone)
        return PlanningContext(
            local_time=self._clock().astimezone(ZoneInfo(timezone)), timezone=timezone
        )
