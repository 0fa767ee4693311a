"""A cheap, explainable guess of how hard an intent is to plan: simple or complex.

No model is asked: this runs before routing, on every intent. The rule (also in
docs/planner.md) is COMPLEX when any of these holds, SIMPLE otherwise:

- more than 40 words;
- 3 or more action verbs ("email Bob and remind me to call Alice": email, remind, call);
- a sequencing or conditional marker ("then", "after that", "if", "unless", "every", ...),
  because order, conditions and repetition are where small models slip;
- 4 or more named entities (capitalised words that do not start a sentence, weekdays and
  months excluded; e-mail addresses count too).

Two verbs are still simple on purpose: "remind me to call mom" is one action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.llm.routing import TaskComplexity

MAX_SIMPLE_WORDS = 40
MIN_COMPLEX_ACTION_VERBS = 3
MIN_COMPLEX_ENTITIES = 4

ACTION_VERBS = frozenset(
    {
        "add", "book", "buy", "call", "cancel", "create", "email", "invite", "mail", "message",
        "move", "note", "order", "pay", "remind", "reschedule", "schedule", "send", "set",
        "text", "transfer", "write",
    }
)  # fmt: skip

SEQUENCE_MARKERS = (
    "then", "after that", "afterwards", "and also", "as well as", "if", "unless", "when",
    "every", "each",
)  # fmt: skip

_NOT_ENTITIES = frozenset(
    {
        "i", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december",
    }
)  # fmt: skip

_WORD = re.compile(r"[\w'@.+-]+")
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
_SENTENCE_END = re.compile(r"[.!?]$")


@dataclass(frozen=True)
class ComplexityEstimate:
    level: TaskComplexity
    words: int
    action_verbs: int
    sequence_markers: int
    entities: int


def estimate_complexity(intent_text: str) -> ComplexityEstimate:
    words = _WORD.findall(intent_text)
    lowered = [word.lower().strip(".") for word in words]
    action_verbs = sum(1 for word in lowered if word in ACTION_VERBS)
    sequence_markers = _count_markers(" ".join(lowered))
    entities = _count_entities(words)
    complex_ = (
        len(words) > MAX_SIMPLE_WORDS
        or action_verbs >= MIN_COMPLEX_ACTION_VERBS
        or sequence_markers > 0
        or entities >= MIN_COMPLEX_ENTITIES
    )
    return ComplexityEstimate(
        level=TaskComplexity.COMPLEX if complex_ else TaskComplexity.SIMPLE,
        words=len(words),
        action_verbs=action_verbs,
        sequence_markers=sequence_markers,
        entities=entities,
    )


def _count_markers(lowered_text: str) -> int:
    padded = f" {lowered_text} "
    return sum(padded.count(f" {marker} ") for marker in SEQUENCE_MARKERS)


def _count_entities(words: list[str]) -> int:
    entities: set[str] = set()
    starts_sentence = True
    for word in words:
        bare = word.strip(".")
        if _EMAIL.match(bare):
            entities.add(bare.lower())
        elif not starts_sentence and bare[:1].isupper() and bare.lower() not in _NOT_ENTITIES:
            entities.add(bare)
        starts_sentence = bool(_SENTENCE_END.search(word))
    return len(entities)
