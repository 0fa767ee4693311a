"""The suite's longest files are handed out first (tests/support/scheduling.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.scheduling import longest_files_first

pytestmark = pytest.mark.unit

Test = tuple[str, str, float]  # file, name, expected seconds


def _order(tests: list[Test]) -> list[Test]:
    return longest_files_first(tests, lambda t: t[2], lambda t: t[0])


def test_the_longest_file_comes_first_and_the_short_ones_keep_their_order() -> None:
    tests = [
        ("a.py", "a1", 0.0),
        ("b.py", "b1", 0.0),
        ("kill.py", "k1", 180.0),
        ("fuzz.py", "f1", 70.0),
        ("fuzz.py", "f2", 20.0),
        ("c.py", "c1", 0.0),
        ("a.py", "a2", 0.0),
    ]
    assert [t[1] for t in _order(tests)] == ["k1", "f1", "f2", "a1", "a2", "b1", "c1"]


def test_a_files_many_short_long_tests_add_up() -> None:
    tests = [("one.py", "x", 50.0)] + [("many.py", f"m{n}", 14.0) for n in range(6)]
    assert _order(tests)[0][0] == "many.py"  # 84 s in all against 50 s


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a.py", "b.py", "c.py", "d.py"]),
            st.text(max_size=3),
            st.sampled_from([0.0, 5.0, 60.0]),
        ),
        max_size=30,
    )
)
def test_every_test_stays_once_files_stay_whole_and_totals_never_rise(tests: list[Test]) -> None:
    ordered = _order(tests)
    assert sorted(ordered) == sorted(tests)
    files = [t[0] for t in ordered]
    runs = [f for n, f in enumerate(files) if n == 0 or files[n - 1] != f]
    assert len(runs) == len(set(files))  # each file's tests are together
    for name in set(files):  # and in their collected order
        assert [t for t in ordered if t[0] == name] == [t for t in tests if t[0] == name]
    totals = [sum(t[2] for t in tests if t[0] == f) for f in runs]
    assert totals == sorted(totals, reverse=True)
