"""A context graph that finds nothing and counts how often it was searched."""

from __future__ import annotations

from typing import Any


class CountingSearch:
    def __init__(self) -> None:
        self.asked = 0

    def search(self, *_: Any, **__: Any) -> list[Any]:
        self.asked += 1
        return []

    def current_facts(self, *_: Any, **__: Any) -> list[Any]:
        return []
