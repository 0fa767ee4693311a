"""The planner's context from one read of the person's views (decision 0042): approved upstream
tools offered as actions, upcoming events as data, the graph searched only for a person it
knows, and a plan still made (without tools and events) when the views cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.llm.context import FixedContextProvider, GraphContextProvider
from commands.ports.mcp_upstream import PinnedTool, UpstreamServer
from commands.ports.planner import CalendarEntry, PlanningContext
from commands.ports.upcoming import PersonViews
from domain.errors import Unavailable
from tests.support.counting_search import CountingSearch

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BASE = PlanningContext(local_time=NOW, timezone="Europe/Zurich")
EVENT = CalendarEntry(provider="google", event_id="e1", title="Dentist", start=NOW)
SERVER = UpstreamServer("srv1", "ada", "Weather", "https://weather.example/mcp", "none")
PIN = PinnedTool("srv1", "weather", "h1", "h1", "The weather.", {"type": "object"})


class Views:
    def __init__(self, found: PersonViews | None) -> None:
        self.found = found
        self.asked: list[tuple[UUID, str, datetime, int]] = []
        self.prefixes: list[str | None] = []

    def person_views(
        self,
        tenant_id: UUID,
        user_id: str,
        now: datetime,
        *,
        max_events: int,
        secrets_prefix: str | None = None,
    ) -> PersonViews:
        self.asked.append((tenant_id, user_id, now, max_events))
        self.prefixes.append(secrets_prefix)
        if self.found is None:
            raise Unavailable("the context store is unavailable")
        return self.found


def context(views: Views, search: CountingSearch) -> PlanningContext:
    provider = GraphContextProvider(search, FixedContextProvider(BASE), views=views)
    return provider.planning_context(tenant_id=uuid4(), user_id="ada", intent_text="weather")


def test_tools_and_events_come_from_the_one_read() -> None:
    views = Views(PersonViews(True, (EVENT,), ((SERVER, PIN),)))
    search = CountingSearch()
    found = context(views, search)
    assert [(t.action, t.server, t.description) for t in found.tools] == [
        ("mcp.srv1.weather", "Weather", "The weather.")
    ]
    assert found.calendar == (EVENT,)
    assert found.given == ("calendar:google:e1", "mcp-tool:h1")
    [(_, user, now, limit)] = views.asked
    assert (user, now, limit) == ("ada", NOW, 10)
    assert search.asked == 1


def test_a_person_the_graph_does_not_know_is_not_searched() -> None:
    search = CountingSearch()
    found = context(Views(PersonViews(knows_anything=False)), search)
    assert search.asked == 0
    assert found == BASE


def test_unreadable_views_cost_the_plan_its_tools_and_events_not_the_run() -> None:
    search = CountingSearch()
    found = context(Views(None), search)
    assert found.tools == () and found.calendar == ()
    assert search.asked == 1  # the graph may still be readable


def test_the_calendar_comes_with_the_views_or_alone() -> None:
    class Upcoming:
        def upcoming(self, *_: Any, **__: Any) -> list[CalendarEntry]:
            return []

    with pytest.raises(ValueError, match="one of them"):
        GraphContextProvider(
            CountingSearch(), FixedContextProvider(BASE), calendar=Upcoming(), views=Views(None)
        )


class Sealed:
    def open(self) -> bytes:
        return b"key"


def test_the_tenants_sealed_secrets_come_with_the_same_read() -> None:
    """Decision 0056: the plan's model keys from the views' read, its context unchanged."""
    sealed = {"llm-key:openai": Sealed()}
    views = Views(PersonViews(True, (EVENT,), ((SERVER, PIN),), sealed))
    provider = GraphContextProvider(CountingSearch(), FixedContextProvider(BASE), views=views)
    inputs = provider.plan_inputs(
        tenant_id=uuid4(), user_id="ada", intent_text="weather", secrets_prefix="llm-key:"
    )
    assert inputs.secrets is sealed
    assert inputs.context == context(views, CountingSearch())
    assert views.prefixes == ["llm-key:", None]  # a context alone asks for no secrets


def test_secrets_come_with_a_person_the_graph_does_not_know() -> None:
    sealed = {"llm-key:openai": Sealed()}
    views = Views(PersonViews(False, secrets=sealed))
    provider = GraphContextProvider(CountingSearch(), FixedContextProvider(BASE), views=views)
    inputs = provider.plan_inputs(
        tenant_id=uuid4(), user_id="ada", intent_text="weather", secrets_prefix="llm-key:"
    )
    assert (inputs.context, inputs.secrets) == (BASE, sealed)


@pytest.mark.parametrize("views", [None, Views(None)])
def test_without_readable_views_no_secrets_are_given_ask_the_vault(views: Views | None) -> None:
    provider = GraphContextProvider(CountingSearch(), FixedContextProvider(BASE), views=views)
    inputs = provider.plan_inputs(
        tenant_id=uuid4(), user_id="ada", intent_text="weather", secrets_prefix="llm-key:"
    )
    assert inputs.secrets is None
    assert (
        FixedContextProvider(BASE)
        .plan_inputs(
            tenant_id=uuid4(), user_id="ada", intent_text="weather", secrets_prefix="llm-key:"
        )
        .secrets
        is None
    )
