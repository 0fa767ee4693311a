"""The one keyset-page helper: the conditions and order it adds, and the cursors it gives out
and reads back, for each kind of sort key the views use."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from projections.engine.cursors import InvalidCursor
from projections.engine.pages import by_position, by_time_and_id

pytestmark = pytest.mark.unit


def test_a_time_and_id_key_seeks_with_a_row_comparison_in_its_direction() -> None:
    oldest_first = by_time_and_id("registered_at", "user_id")
    assert oldest_first.seek() == " AND (registered_at, user_id) > (%s::timestamptz, %s::uuid)"
    assert oldest_first.order() == " ORDER BY registered_at, user_id"
    newest_first = by_time_and_id("created_at", "run_id", descending=True)
    assert newest_first.seek() == " AND (created_at, run_id) < (%s::timestamptz, %s::uuid)"
    assert newest_first.order() == " ORDER BY created_at DESC, run_id DESC"


def test_a_position_key_seeks_with_a_plain_comparison() -> None:
    newest_first = by_position("position", descending=True)
    assert newest_first.seek() == " AND position < %s"
    assert newest_first.order() == " ORDER BY position DESC"


def test_the_cursor_after_a_row_reads_back_as_that_row_s_key() -> None:
    key = by_time_and_id("created_at", "run_id", descending=True)
    stamp, run_id = datetime(2026, 12, 6, 3, 4, 5, 6, tzinfo=UTC), uuid4()
    assert tuple(key.decode(key.encode({"created_at": stamp, "run_id": run_id}))) == (
        stamp,
        run_id,
    )
    position = by_position()
    assert tuple(position.decode(position.encode({"position": 42}))) == (42,)


def test_a_cursor_of_the_other_kind_is_refused() -> None:
    time_and_id = by_time_and_id("created_at", "run_id")
    position = by_position()
    with pytest.raises(InvalidCursor):
        position.decode(time_and_id.encode({"created_at": datetime.now(UTC), "run_id": uuid4()}))
    with pytest.raises(InvalidCursor):
        time_and_id.decode(position.encode({"position": 7}))
