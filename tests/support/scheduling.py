"""The order in which the suite's two test processes are handed test files.

pytest-xdist's `--dist loadfile` hands out whole files in the order it is given them, a new one
to whichever process is free. By default it first sorts the files by how many tests they
hold, which puts files of one long test (the kill -9 scenarios, the fuzzers, the killed
workers) last: one process then runs them alone at the end while the other has nothing left.
Handing out the longest files first (longest processing time first) lets the many short
files fill in behind them, so both processes end at about the same time. A test says how long
it takes with `@pytest.mark.long(seconds)`; only the order those numbers give matters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import pytest

T = TypeVar("T")

LONG = "long"


def expected_seconds(item: pytest.Item) -> float:
    """The seconds a test's `long` mark gives (0 for a test without one)."""
    marker = item.get_closest_marker(LONG)
    if marker is None:
        return 0.0
    if len(marker.args) != 1 or not isinstance(marker.args[0], int | float):
        raise pytest.UsageError(f"{item.nodeid}: write @pytest.mark.long(seconds)")
    return float(marker.args[0])


def longest_files_first(
    items: Sequence[T], seconds: Callable[[T], float], file_of: Callable[[T], str]
) -> list[T]:
    """The items of the file whose tests take longest together first, and so on; files with
    no long test keep their order after them, and a file's items keep theirs."""
    total: dict[str, float] = {}
    for item in items:
        total[file_of(item)] = total.get(file_of(item), 0.0) + seconds(item)
    first_seen = {name: n for n, name in enumerate(total)}
    return sorted(items, key=lambda item: (-total[file_of(item)], first_seen[file_of(item)]))
