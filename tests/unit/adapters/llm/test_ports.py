"""The adapters satisfy the ports (checked by mypy), and the interim context providers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from adapters.llm import ClockContextProvider, FixedContextProvider, LiteLLMPlanner
from api.errors import status_for
from commands.ports.planner import (
    ContextProvider,
    PlanInvalid,
    Planner,
    PlannerFailure,
    PlannerUnavailable,
    PlanningContext,
)

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()


def test_the_litellm_planner_is_a_planner() -> None:
    planner: Planner = LiteLLMPlanner()
    assert callable(planner.propose)


def test_fixed_context_provider() -> None:
    context = PlanningContext(local_time=datetime(2026, 1, 1, tzinfo=UTC), timezone="UTC")
    provider: ContextProvider = FixedContextProvider(context)
    assert provider.planning_context(tenant_id=TENANT, user_id="u", intent_text="x") is context


def test_clock_context_provider_uses_the_users_timezone() -> None:
    provider: ContextProvider = ClockContextProvider(
        timezones={"ana": "Asia/Tokyo"}, clock=lambda: datetime(2026, 1, 1, 12, tzinfo=UTC)
    )
    ana = provider.planning_context(tenant_id=TENANT, user_id="ana", intent_text="x")
    assert ana.timezone == "Asia/Tokyo"
    assert ana.local_time.isoformat() == "2026-01-01T21:00:00+09:00"
    other = provider.planning_context(tenant_id=TENANT, user_id="bo", intent_text="x")
    assert other.timezone == "UTC"


def test_planner_failures_map_to_422_and_503() -> None:
    invalid, unavailable = PlanInvalid("no"), PlannerUnavailable("down")
    assert isinstance(invalid, PlannerFailure)
    assert isinstance(unavailable, PlannerFailure)
    assert (invalid.code, status_for(invalid)) == ("plan_invalid", 422)
    assert (unavailable.code, status_for(unavailable)) == ("planner_unavailable", 503)
