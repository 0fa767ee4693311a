"""Placing a new fact among the facts held: what it closes and until when it is valid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.context.timeline import Closure, HeldFact, place

pytestmark = pytest.mark.unit


def at(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


ACME = HeldFact("acme", "employer", at(2023))


def test_a_newer_fact_closes_the_current_one() -> None:
    placed = place("employer", at(2024, 6), [ACME])
    assert placed.valid_to is None
    assert placed.closes == (Closure("acme", at(2024, 6)),)


def test_a_late_fact_about_the_past_is_closed_by_the_present_and_closes_nothing() -> None:
    globex = HeldFact("globex", "employer", at(2024, 6))
    closed_acme = HeldFact("acme", "employer", at(2023), at(2024, 6))
    placed = place("employer", at(2022), [closed_acme, globex])
    assert placed.valid_to == at(2023)
    assert placed.closes == ()


def test_a_fact_between_two_shortens_the_earlier_one() -> None:
    globex = HeldFact("globex", "employer", at(2024, 6))
    closed_acme = HeldFact("acme", "employer", at(2023), at(2024, 6))
    placed = place("employer", at(2023, 9), [closed_acme, globex])
    assert placed.valid_to == at(2024, 6)
    assert placed.closes == (Closure("acme", at(2023, 9)),)


def test_multi_valued_attributes_never_close_each_other() -> None:
    home = HeldFact("e1", "email", at(2023))
    assert place("email", at(2024), [home]).closes == ()


def test_other_attributes_are_not_touched() -> None:
    assert place("home", at(2024), [ACME]).closes == ()
