"""What a completed run teaches, by deterministic rules (no model): the addresses its steps
wrote to, for the people the intent named, and the appointments it made.

"email Sarah that I'm late", sent to sarah@smile.example: Sarah's address (unless known
already) and that she was e-mailed about it. An event created with attendees: each attendee
is a person with that address and the appointment. A recipient is the person the intent names
when it names exactly one and the step has one recipient, the known entity of that address
otherwise, else a person named by the address itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.context.extraction import ExtractedEntity, ExtractedFact, Extraction

_NAME = re.compile(r"\b[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)*")
_NOT_NAMES = frozenset(
    {"I", "I'm", "I'll", "I've", "I'd"}
    | {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
    | {"January", "February", "March", "April", "May", "June", "July", "August"}
    | {"September", "October", "November", "December", "Today", "Tomorrow"}
)


@dataclass(frozen=True)
class DoneStep:
    """A step of the run that succeeded: its action and parameters as the plan gave them."""

    action: str
    parameters: Mapping[str, Any]


def names_in(text: str) -> list[str]:
    """Capitalised names in an intent, not counting its first word (a capitalised verb),
    pronouns, days and months."""
    first = text.split(maxsplit=1)[0] if text.split() else ""
    found = []
    for match in _NAME.finditer(text):
        name = match.group(0)
        words = name.split()
        if match.start() == 0 and words[0] == first:
            words = words[1:]
        words = [w for w in words if w not in _NOT_NAMES]
        if words and " ".join(words) not in found:
            found.append(" ".join(words))
    return found


def _addresses(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    return [str(a).strip().lower() for a in items if isinstance(a, str) and "@" in a][:50]


def facts_from_run(
    intent: str, steps: Sequence[DoneStep], source_event: str, known: Mapping[str, str]
) -> Extraction:
    """`known`: address -> the name of the person's entity that already has it."""
    names = names_in(intent)
    people: dict[str, list[ExtractedFact]] = {}
    places: list[str] = []
    for step in steps:
        params = step.parameters
        if step.action == "email.send":
            recipients = _addresses(params.get("to"))
            subject = str(params.get("subject") or "an e-mail")[:500]
            done = ExtractedFact(predicate="emailed", value=subject)
        elif step.action == "calendar.create_event":
            recipients = _addresses(params.get("attendees"))
            when = f"{params.get('title') or 'appointment'} at {params.get('start')}"
            done = ExtractedFact(predicate="appointment", value=when[:500])
            location = params.get("location")
            if isinstance(location, str) and location.strip():
                places.append(location.strip()[:200])
        else:
            continue
        for address in recipients:
            name = known.get(address)
            if name is None:
                name = names[0] if len(names) == 1 and len(recipients) == 1 else address
            facts = people.setdefault(name[:200], [])
            if address not in known:
                facts.append(ExtractedFact(predicate="email", value=address))
            facts.append(done)
    entities = [
        ExtractedEntity(name=name, facts=tuple(dict.fromkeys(facts))[:20])
        for name, facts in people.items()
    ]
    entities += [ExtractedEntity(name=place, kind="place") for place in dict.fromkeys(places)]
    return Extraction(source_event=source_event[:200], entities=tuple(entities[:20]))
