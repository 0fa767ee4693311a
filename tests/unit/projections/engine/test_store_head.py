"""A query's `?after=` beyond the event store's last position is refused at once; one the
store handed out is never refused, and costs no look at the store when this process knows it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.engine.errors import PositionBeyondStore
from projections.engine.store_head import StoreHead

pytestmark = pytest.mark.unit


class Store:
    """The store's last position as the head asks it, with the asks counted."""

    def __init__(self, last: int | None) -> None:
        self.last, self.asked = last, 0

    def __call__(self) -> int | None:
        self.asked += 1
        return self.last


def test_a_position_beyond_the_stores_last_is_refused_with_both_positions() -> None:
    head = StoreHead(Store(41))
    with pytest.raises(PositionBeyondStore) as refused:
        head.check(42)
    assert refused.value.code == "position_beyond_store"
    assert refused.value.details == {"position": 42, "last": 41}
    assert "beyond the event store's last position (41)" in str(refused.value)


def test_a_position_a_command_answered_with_is_not_asked_of_the_store() -> None:
    store = Store(None)  # it could not answer anyway
    head = StoreHead(store)
    head.note(120)
    head.check(120)
    head.check(7)
    assert store.asked == 0


def test_a_position_the_push_feed_fanned_out_is_not_asked_of_the_store() -> None:
    store, fanned_out = Store(None), [0]
    head = StoreHead(store, seen=lambda: fanned_out[0])
    fanned_out[0] = 300  # the feed moves on by itself: read at each check
    head.check(300)
    assert store.asked == 0
    store.last = 300
    with pytest.raises(PositionBeyondStore):
        head.check(301)
    assert store.asked == 1


def test_the_store_is_asked_once_for_every_position_up_to_its_last() -> None:
    store = Store(500)
    head = StoreHead(store)
    for position in (300, 500, 12, 499):
        head.check(position)
    assert store.asked == 1  # 500 is known from then on


def test_a_store_that_cannot_tell_refuses_nothing_and_is_asked_again() -> None:
    store = Store(None)
    head = StoreHead(store)
    head.check(10**12)  # the view's wait decides, as without the head
    store.last = 5
    with pytest.raises(PositionBeyondStore):
        head.check(10**12)
    assert store.asked == 2


@given(
    noted=st.lists(st.integers(min_value=0, max_value=10**6), max_size=5),
    last=st.integers(min_value=0, max_value=10**6),
    asked=st.integers(min_value=0, max_value=2 * 10**6),
)
def test_a_position_is_refused_exactly_when_it_is_beyond_the_stores_last(
    noted: list[int], last: int, asked: int
) -> None:
    head = StoreHead(Store(last))
    for position in noted:  # what commands answered: never beyond the store's last
        head.note(min(position, last))
    if asked > last:
        with pytest.raises(PositionBeyondStore):
            head.check(asked)
    else:
        head.check(asked)
