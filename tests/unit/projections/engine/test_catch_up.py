"""Catch-up processes: how the positions are cut into chunks, which projectors can use them."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.engine import catch_up, projector_registry
from projections.engine.projector_base import Projector

pytestmark = pytest.mark.unit


@given(
    first=st.integers(1, 10**7),
    count=st.integers(1, 3 * 10**6),
    processes=st.integers(1, 8),
)
def test_chunks_cover_every_position_once_in_order(first: int, count: int, processes: int) -> None:
    last = first + count - 1
    found = catch_up.chunks(first, last, processes)
    assert found[0][0] == first and found[-1][1] == last
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(found))
    sizes = [b - a + 1 for a, b in found]
    assert all(size <= catch_up.MAX_CHUNK for size in sizes)
    # Every chunk but the last is at least the minimum: few consumers to create.
    assert all(size >= catch_up.MIN_CHUNK for size in sizes[:-1])
    if count >= catch_up.MIN_CHUNK * processes * catch_up.CHUNKS_PER_PROCESS:
        assert len(found) >= processes  # every process has work


def test_worker_processes_need_a_projector_importable_by_name() -> None:
    assert all(catch_up.importable(cls) for cls in projector_registry.PROJECTORS.values())

    class Local(Projector):
        name = "local"
        tables = ("local",)

    assert not catch_up.importable(Local)
