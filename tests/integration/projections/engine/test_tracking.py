"""A batch moves its tracking row from where its writer left it, in the batch's one round
trip: a batch from a writer that lost track (another wrote meanwhile) writes nothing."""

from __future__ import annotations

import pytest

from projections.engine.projector_base import Writes
from projections.engine.view_recorder import TrackingConflict, ViewRecorder, datastore
from tests.integration.projections.support import admin

pytestmark = pytest.mark.integration

NAME = "tracked@g1"


def _writes(value: str) -> Writes:
    writes = Writes()
    writes.execute("INSERT INTO tracked_rows VALUES (%s)", (value,))
    return writes


def test_a_batch_from_an_unexpected_position_is_refused_whole(database: str) -> None:
    with admin(database) as conn:
        conn.execute("CREATE TABLE tracked_rows (value text PRIMARY KEY)")
        conn.execute("GRANT INSERT, SELECT ON tracked_rows TO cairn_owner")
    views = ViewRecorder(datastore(database))
    try:
        views.commit(_writes("a"), NAME, None, 10)
        views.commit(_writes("b"), NAME, 10, 12)
        for expected in (None, 10, 11, 13):  # a writer that does not know where it is
            with pytest.raises(TrackingConflict):
                views.commit(_writes(f"at {expected}"), NAME, expected, 20)
        views.commit(Writes(), NAME, 12, 12)  # the same position: only checked
        views.commit(_writes("c"), NAME, 12, 15)
        assert views.position(NAME) == 15
    finally:
        views.datastore.close()
    with admin(database) as conn:
        rows = conn.execute("SELECT value FROM tracked_rows ORDER BY value").fetchall()
    assert [r[0] for r in rows] == ["a", "b", "c"]
