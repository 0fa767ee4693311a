"""The person's upcoming events, as the synced calendars hold them (the calendar view of
`CalendarFeed` events): what the planner's context shows so that "move my meeting with Sarah"
can name the event. Read from Cairn's own view, never from the provider at plan time
(decision 0033)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from commands.ports.mcp_upstream import PinnedTool, UpstreamServer
from commands.ports.planner import CalendarEntry
from commands.ports.vault import SealedSecret


class UpcomingEvents(Protocol):
    def upcoming(
        self, tenant_id: UUID, user_id: str, now: datetime, *, limit: int
    ) -> list[CalendarEntry]:
        """The person's events that have not ended by `now`, soonest first, at most `limit`,
        titles opened (None once the person was erased); raises a `DomainError` (503 family)
        when the view cannot be read."""
        ...


@dataclass(frozen=True)
class PersonViews:
    """What Cairn's views hold for one person's plan, read together in one statement
    (docs/decisions/0042-one-read-for-a-plans-context.md)."""

    knows_anything: bool  # a memory or an entity in the context graph: worth a search
    upcoming: tuple[CalendarEntry, ...] = ()  # as `UpcomingEvents.upcoming` gives them
    # The person's upstream MCP tools as approved (approved hash = listed hash), with their
    # servers, ordered by server name, server id and tool name.
    approved_tools: tuple[tuple[UpstreamServer, PinnedTool], ...] = ()
    # The tenant's sealed secrets of the asked prefix (the plan's model keys), from the same
    # read (decision 0056); None when none were asked for.
    secrets: Mapping[str, SealedSecret] | None = None


class PlanningViews(Protocol):
    def person_views(
        self,
        tenant_id: UUID,
        user_id: str,
        now: datetime,
        *,
        max_events: int,
        secrets_prefix: str | None = None,
    ) -> PersonViews:
        """Everything of `PersonViews` as the views stand now (nothing cached), with the
        tenant's sealed secrets of `secrets_prefix` if given (as `Vault.sealed_secrets` reads
        them); raises a `DomainError` (503 family) when the views cannot be read."""
        ...
