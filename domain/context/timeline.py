"""Bi-temporal facts: when a fact was true (valid time) and when Cairn learnt it (the stream
position of its event). Pure: which older facts a new one closes, and until when it holds.

A single-valued attribute (where someone works, where they live) holds one value at a time: a
newer fact closes the one before it (`FactSuperseded`, never a deletion). A fact that arrives
late with an older valid time slots into the past: it is closed by the next newer fact at once
and does not undo it. Multi-valued attributes (e-mail addresses, phone numbers) never close
each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

MULTI_VALUED = frozenset(
    {"email", "phone", "alias", "note", "preference", "appointment", "emailed"}
)


@dataclass(frozen=True, slots=True)
class HeldFact:
    """A fact as its entity knows it: id, attribute, and its valid interval [from, to)."""

    fact_id: str
    predicate: str
    valid_from: datetime
    valid_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class Closure:
    """An older fact that stops being valid at `valid_to` because of the new one."""

    fact_id: str
    valid_to: datetime


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new fact lands: until when it is valid (None: still is) and what it closes."""

    valid_to: datetime | None
    closes: tuple[Closure, ...]


def is_single_valued(predicate: str) -> bool:
    return predicate not in MULTI_VALUED


def place(predicate: str, valid_from: datetime, held: Iterable[HeldFact]) -> Placement:
    """Place a new fact of `predicate`, valid from `valid_from`, among the facts held."""
    if not is_single_valued(predicate):
        return Placement(None, ())
    same = sorted((f for f in held if f.predicate == predicate), key=lambda f: f.valid_from)
    later = [f.valid_from for f in same if f.valid_from > valid_from]
    valid_to = min(later) if later else None
    closes: list[Closure] = []
    for fact in same:
        if fact.valid_from > valid_from:
            continue
        # It held at `valid_from` (or starts then, and the newer statement replaces it).
        if fact.valid_to is None or fact.valid_to > valid_from:
            closes.append(Closure(fact.fact_id, valid_from))
    return Placement(valid_to, tuple(closes))
