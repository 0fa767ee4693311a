"""Context providers: what the planner is told about the person.

`ClockContextProvider` gives just the person's local time (from a clock and a timezone), which
is the least a planner needs to resolve "tomorrow". `GraphContextProvider` adds the few facts
of the context graph relevant to the intent. `FixedContextProvider` returns one given context
(tests, demos).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from commands.ports.context import ContextSearch, CurrentFact
from commands.ports.mcp_upstream import PinnedTool, UpstreamServer
from commands.ports.planner import (
    CalendarEntry,
    Contact,
    ContextProvider,
    PlanInputs,
    PlannerTool,
    PlanningContext,
)
from commands.ports.upcoming import PersonViews, PlanningViews, UpcomingEvents
from domain.errors import DomainError
from domain.runs.actions import upstream_action

logger = logging.getLogger("cairn.context")


class FixedContextProvider:
    """Implements `commands.ports.planner.ContextProvider` with one fixed context."""

    def __init__(self, context: PlanningContext) -> None:
        self._context = context

    def planning_context(
        self, *, tenant_id: UUID, user_id: str, intent_text: str
    ) -> PlanningContext:
        return self._context

    def plan_inputs(
        self, *, tenant_id: UUID, user_id: str, intent_text: str, secrets_prefix: str
    ) -> PlanInputs:
        return PlanInputs(self._context)


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

    def plan_inputs(
        self, *, tenant_id: UUID, user_id: str, intent_text: str, secrets_prefix: str
    ) -> PlanInputs:
        return PlanInputs(
            self.planning_context(tenant_id=tenant_id, user_id=user_id, intent_text=intent_text)
        )


class GraphContextProvider:
    """Implements `ContextProvider` from the context graph: the few facts relevant to the
    intent (people with their contact handles and relation, other current facts, a few
    memories), bounded in tokens, on top of what `base` gives (the local time).

    With `calendar`, the person's next events from their synced calendars come too, within
    their own token budget (`calendar_tokens`), so memories and events never crowd each other
    out. With `views` instead, those events, the person's approved upstream MCP tools
    (decision 0035) and whether the graph knows the person at all come from one read
    (decision 0042): a person the graph does not know is not searched.

    Everything it adds is data for the prompt's `<cairn-data>` block, never instructions (the
    prompt says so, adapters/llm/prompt.py). `given` names the ids of what was added, for the
    run's PlanProposed. A context store that is down costs the plan its context, not the run.
    """

    def __init__(
        self,
        search: ContextSearch,
        base: ContextProvider,
        *,
        max_tokens: int = 600,
        max_hits: int = 10,
        calendar: UpcomingEvents | None = None,
        calendar_tokens: int = 300,
        max_events: int = 10,
        views: PlanningViews | None = None,
    ) -> None:
        if calendar is not None and views is not None:
            raise ValueError("the calendar comes with the views: give one of them")
        self._search = search
        self._base = base
        self._max_tokens = max_tokens
        self._max_hits = max_hits
        self._calendar = calendar
        self._calendar_tokens = calendar_tokens
        self._max_events = max_events
        self._views = views

    def planning_context(
        self, *, tenant_id: UUID, user_id: str, intent_text: str
    ) -> PlanningContext:
        return self._inputs(tenant_id, user_id, intent_text, None).context

    def plan_inputs(
        self, *, tenant_id: UUID, user_id: str, intent_text: str, secrets_prefix: str
    ) -> PlanInputs:
        """With `views`, the tenant's sealed secrets come with the person's views (one read,
        decision 0056); without, or when the views cannot be read, none (ask the vault)."""
        return self._inputs(tenant_id, user_id, intent_text, secrets_prefix)

    def _inputs(
        self, tenant_id: UUID, user_id: str, intent_text: str, secrets_prefix: str | None
    ) -> PlanInputs:
        base = self._base.planning_context(
            tenant_id=tenant_id, user_id=user_id, intent_text=intent_text
        )
        secrets = None
        if self._views is None:
            base = self._with_calendar(base, tenant_id, user_id)
        else:
            views = self._person_views(base, tenant_id, user_id, secrets_prefix)
            secrets = views.secrets
            base = _with_tools(self._with_events(base, views.upcoming), views.approved_tools)
            if not views.knows_anything:
                return PlanInputs(base, secrets)
        return PlanInputs(self._with_graph(base, tenant_id, user_id, intent_text), secrets)

    def _with_graph(
        self, base: PlanningContext, tenant_id: UUID, user_id: str, intent_text: str
    ) -> PlanningContext:
        try:
            hits = self._search.search(tenant_id, user_id, intent_text, limit=self._max_hits)
            entity_ids = [h.id for h in hits if h.kind == "entity"]
            facts = self._search.current_facts(tenant_id, user_id, entity_ids) if hits else []
        except DomainError as error:
            logger.warning("planning without the context graph: %s", error.code)
            return base
        budget = _Budget(self._max_tokens)
        contacts = _contacts(facts, entity_ids, budget)
        memories: list[str] = []
        for fact in facts:
            if fact.predicate not in _CONTACT_PREDICATES:
                line = f"{fact.entity_name}: {fact.predicate} = {fact.value}"
                if budget.take(line, f"fact:{fact.fact_id}"):
                    memories.append(line)
        for hit in hits:
            if hit.kind == "memory" and budget.take(hit.text, f"memory:{hit.id}"):
                memories.append(hit.text)
        return base.model_copy(
            update={
                "contacts": base.contacts + tuple(contacts),
                "memories": base.memories + tuple(memories),
                "given": base.given + tuple(budget.given),
            }
        )

    def _with_calendar(
        self, base: PlanningContext, tenant_id: UUID, user_id: str
    ) -> PlanningContext:
        if self._calendar is None:
            return base
        try:
            events = self._calendar.upcoming(
                tenant_id, user_id, base.local_time, limit=self._max_events
            )
        except DomainError as error:
            logger.warning("planning without the synced calendar: %s", error.code)
            return base
        return self._with_events(base, events)

    def _person_views(
        self, base: PlanningContext, tenant_id: UUID, user_id: str, secrets_prefix: str | None
    ) -> PersonViews:
        assert self._views is not None
        try:
            return self._views.person_views(
                tenant_id,
                user_id,
                base.local_time,
                max_events=self._max_events,
                secrets_prefix=secrets_prefix,
            )
        except DomainError as error:
            # Planned without events and tools (the plan's schema then names no upstream
            # tool); the graph is still searched, it may be readable.
            logger.warning("planning without the calendar and upstream tools: %s", error.code)
            return PersonViews(knows_anything=True)

    def _with_events(
        self, base: PlanningContext, events: Sequence[CalendarEntry]
    ) -> PlanningContext:
        budget = _Budget(self._calendar_tokens)
        shown: list[CalendarEntry] = [
            event
            for event in events
            if budget.take(event.model_dump_json(), f"calendar:{event.provider}:{event.event_id}")
        ]
        return base.model_copy(
            update={
                "calendar": base.calendar + tuple(shown),
                "given": base.given + tuple(budget.given),
            }
        )


_CONTACT_PREDICATES = frozenset({"email", "relation"})


def _with_tools(
    base: PlanningContext, approved: Sequence[tuple[UpstreamServer, PinnedTool]]
) -> PlanningContext:
    """The person's approved upstream tools as actions beside the catalogue's, their text as
    data, never instructions; `given` records which tool texts (`mcp-tool:<hash>`)."""
    if not approved:
        return base
    tools = tuple(
        PlannerTool(
            action=upstream_action(server.server_id, pin.name),
            server=server.name,
            description=pin.description,
            input_schema=dict(pin.input_schema),
        )
        for server, pin in approved
    )
    given = tuple(f"mcp-tool:{pin.listed_hash}" for _, pin in approved)
    return base.model_copy(update={"tools": base.tools + tools, "given": base.given + given})


class _Budget:
    """Tokens left for context, estimated at four characters a token (the prompt's own
    bounds cut further, adapters/llm/prompt.py)."""

    def __init__(self, tokens: int) -> None:
        self.left = tokens
        self.given: list[str] = []

    def take(self, text: str, given: str | list[str]) -> bool:
        cost = len(text) // 4 + 1
        if cost > self.left:
            return False
        self.left -= cost
        self.given.extend([given] if isinstance(given, str) else given)
        return True


def _contacts(facts: list[CurrentFact], order: list[str], budget: _Budget) -> list[Contact]:
    by_entity: dict[str, list[CurrentFact]] = {}
    for fact in facts:
        if fact.predicate in _CONTACT_PREDICATES:
            by_entity.setdefault(fact.entity_id, []).append(fact)
    contacts = []
    for entity_id in order:
        held = by_entity.get(entity_id)
        if not held:
            continue
        email = next((f.value for f in held if f.predicate == "email"), None)
        relation = next((f.value for f in held if f.predicate == "relation"), None)
        contact = Contact(
            name=held[0].entity_name[:200],
            email=email[:320] if email else None,
            relation=relation[:100] if relation else None,
        )
        if budget.take(contact.model_dump_json(), [f"fact:{f.fact_id}" for f in held]):
            contacts.append(contact)
    return contacts
