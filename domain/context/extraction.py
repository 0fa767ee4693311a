"""What is learnt from one source (a memory, an intent, a synced record): a validated schema
that the deterministic rules and the person's own model both fill, each fact citing its source.

The rules need no model: e-mail addresses, "<Name> is my <relation>", "<Name> works at /
joined <Organisation>", and structured records (domain/context/synced.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["person", "place", "organisation", "project", "thing"]
PREDICATE = r"^[a-z][a-z_]{0,39}$"


class ExtractedFact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    predicate: str = Field(pattern=PREDICATE, description="e.g. email, relation, employer")
    value: str = Field(min_length=1, max_length=500)
    valid_from: datetime | None = Field(default=None, description="When it became true")


class ExtractedEntity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Kind = "person"
    facts: tuple[ExtractedFact, ...] = Field(default=(), max_length=20)


class Extraction(BaseModel):
    """Entities and their facts from one source; `source_event` names the event it came from
    (a topic and position, or an aggregate id and version)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_event: str = Field(min_length=1, max_length=200)
    entities: tuple[ExtractedEntity, ...] = Field(default=(), max_length=20)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME = r"(?P<name>[A-Z][\w'-]+(?: [A-Z][\w'-]+){0,3})"
_IS_MY = re.compile(_NAME + r" is my (?P<relation>[a-z][a-z -]{1,40}?)(?=[,.;:!]|$| and )")
_WORKS = re.compile(
    _NAME + r" (?:works at|works for|joined|is at) (?P<org>[A-Z][\w&'-]*(?: [A-Z][\w&'-]*){0,3})"
)
_LIVES = re.compile(_NAME + r" lives in (?P<place>[A-Z][\w'-]*(?: [A-Z][\w'-]*){0,3})")


def _merge(
    found: dict[str, list[ExtractedFact]],
    kinds: dict[str, Kind],
    name: str,
    kind: Kind,
    fact: ExtractedFact | None,
) -> None:
    found.setdefault(name, [])
    kinds.setdefault(name, kind)
    if fact is not None and fact not in found[name]:
        found[name].append(fact)


def extract_by_rules(text: str, source_event: str, valid_from: datetime | None) -> Extraction:
    """The facts the rules find in `text` (all valid from `valid_from`, if given)."""
    found: dict[str, list[ExtractedFact]] = {}
    kinds: dict[str, Kind] = {}
    people: list[str] = []
    for match in _IS_MY.finditer(text):
        name = match.group("name")
        people.append(name)
        relation = match.group("relation").strip()
        _merge(found, kinds, name, "person", ExtractedFact(predicate="relation", value=relation))
    for match in _WORKS.finditer(text):
        name, org = match.group("name"), match.group("org")
        people.append(name)
        fact = ExtractedFact(predicate="employer", value=org, valid_from=valid_from)
        _merge(found, kinds, name, "person", fact)
        _merge(found, kinds, org, "organisation", None)
    for match in _LIVES.finditer(text):
        name, place_name = match.group("name"), match.group("place")
        people.append(name)
        fact = ExtractedFact(predicate="home", value=place_name, valid_from=valid_from)
        _merge(found, kinds, name, "person", fact)
        _merge(found, kinds, place_name, "place", None)
    emails = _EMAIL.findall(text)
    # An address in a sentence about one person is that person's.
    if emails and len(set(people)) == 1:
        for email in emails:
            _merge(found, kinds, people[0], "person", ExtractedFact(predicate="email", value=email))
    entities = tuple(
        ExtractedEntity(name=name, kind=kinds[name], facts=tuple(facts))
        for name, facts in found.items()
    )
    return Extraction(source_event=source_event, entities=entities)
