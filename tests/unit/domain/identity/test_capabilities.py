from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.identity.capabilities import Capability, holds

pytestmark = pytest.mark.unit


def test_parse_and_print_round_trip() -> None:
    assert str(Capability.parse("calendar.write")) == "calendar.write"
    assert Capability.parse("payments.up_to:50") == Capability("payments.up_to", Decimal(50))


@pytest.mark.parametrize("bad", ["", "calendar", "Calendar.write", "a.b:-1", "a.b:x", "a.b:inf"])
def test_malformed_capabilities_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        Capability.parse(bad)


def test_unlimited_capability_allows_its_name_only() -> None:
    assert holds(["calendar.write"], "calendar.write")
    assert not holds(["calendar.write"], "calendar.read")
    assert not holds(["calendar.write"], "calendar")


def test_limited_capability_needs_an_amount_within_the_limit() -> None:
    held = ["payments.up_to:50"]
    assert holds(held, "payments.up_to", Decimal("50"))
    assert not holds(held, "payments.up_to", Decimal("50.01"))
    assert not holds(held, "payments.up_to")


@given(limit=st.decimals(0, 10_000, places=2), amount=st.decimals(0, 10_000, places=2))
def test_limit_is_exactly_the_boundary(limit: Decimal, amount: Decimal) -> None:
    assert holds([f"payments.up_to:{limit}"], "payments.up_to", amount) == (amount <= limit)
