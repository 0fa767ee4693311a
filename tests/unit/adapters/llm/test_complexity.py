"""The complexity estimate that picks the routing row."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.llm.complexity import estimate_complexity
from adapters.llm.routing import TaskComplexity

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "intent",
    [
        "Schedule a meeting with Sarah next Tuesday at 2pm",
        "Remind me to call mom",
        "Note: buy milk",
        "Send Bob the slides",
        "Move my dentist appointment to Friday.",
        "",
    ],
)
def test_simple_intents(intent: str) -> None:
    assert estimate_complexity(intent).level is TaskComplexity.SIMPLE


@pytest.mark.parametrize(
    ("intent", "signal"),
    [
        ("Schedule a meeting with Sarah and then email her the agenda", "sequence_markers"),
        ("If it rains tomorrow, remind me to take an umbrella", "sequence_markers"),
        ("Remind me every Monday to water the plants", "sequence_markers"),
        ("Email Bob the report and remind me to call Alice", "action_verbs"),
        ("Invite Anna, Ben, Carl and Dora to lunch on Friday", "entities"),
        ("Invite anna@example.com, ben@example.com, carl@x.org and dora@y.io", "entities"),
        (" ".join(["word"] * 41), "words"),
    ],
)
def test_complex_intents_and_why(intent: str, signal: str) -> None:
    estimate = estimate_complexity(intent)
    assert estimate.level is TaskComplexity.COMPLEX
    thresholds = {"sequence_markers": 1, "action_verbs": 3, "entities": 4, "words": 41}
    assert getattr(estimate, signal) >= thresholds[signal]


def test_weekdays_months_and_sentence_starts_are_not_entities() -> None:
    estimate = estimate_complexity("Book lunch. Tuesday works. Or Friday in March. I decide.")
    assert estimate.entities == 0


def test_marker_inside_a_word_does_not_count() -> None:
    # "then" inside "authentic", "if" inside "gift"
    assert estimate_complexity("Buy an authentic gift for Sarah").sequence_markers == 0


@given(st.text(max_size=400))
def test_any_text_gets_an_estimate(text: str) -> None:
    estimate = estimate_complexity(text)
    assert estimate.level in set(TaskComplexity)
    assert min(estimate.words, estimate.action_verbs, estimate.entities) >= 0
