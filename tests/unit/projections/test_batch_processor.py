"""Batches, exactly-once bookkeeping and poison events, with the database faked."""

from __future__ import annotations

from typing import Any, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Notification, OperationalError

from projections.projector import OnError, Projector, Writes, handles
from projections.runner import BatchProcessor, Stopped
from projections.views import ViewRecorder

pytestmark = pytest.mark.unit

TOPIC, OTHER = "m:A.Done", "m:B.Ignored"


class Numbers(Projector):
    name = "numbers"
    tables = ("numbers",)

    @handles(TOPIC)
    def done(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute("first part", (position,))
        if event == b"raise":
            raise ValueError("cannot")
        writes.execute("BAD" if event == b"bad-sql" else "row", (position,))


class FakeViews:
    """Records commits; refuses (as PostgreSQL would) any transaction with a BAD statement."""

    def __init__(self, transient: bool = False) -> None:
        self.commits: list[tuple[list[str], int | None, int | None]] = []
        self.transient = transient

    def commit(self, writes: Writes, name: str, expected: int | None, position: int | None) -> None:
        assert name == "numbers@g1"
        queries = [q for q, _, _ in writes.statements]
        if "BAD" in queries:
            raise OperationalError("down") if self.transient else IntegrityError("refused")
        self.commits.append((queries, expected, position))


def _n(position: int, state: bytes, topic: str = TOPIC) -> Notification:
    return Notification(
        id=position, originator_id=uuid4(), originator_version=1, topic=topic, state=state
    )


def _processor(views: FakeViews, on_error: OnError, start: int = 10) -> BatchProcessor:
    decode = lambda n: n.state  # noqa: E731 - the state stands for the event here
    return BatchProcessor(Numbers(1), decode, cast(ViewRecorder, views), on_error, start)


def test_one_batch_is_one_commit_up_to_its_last_notification() -> None:
    views = FakeViews()
    processor = _processor(views, "stop")
    assert (
        processor.process([_n(11, b""), _n(13, b"", OTHER), _n(14, b""), _n(20, b"", OTHER)])
        is None
    )
    assert views.commits == [(["first part", "row", "first part", "row"], 10, 20)]
    assert processor.position == 20


def test_skip_parks_the_poison_event_in_the_same_transaction() -> None:
    views = FakeViews()
    processor = _processor(views, "skip")
    assert processor.process([_n(11, b""), _n(12, b"raise"), _n(13, b"")]) is None
    queries, expected, position = views.commits[0]
    assert len(views.commits) == 1 and (expected, position) == (10, 13)
    assert queries[:2] == ["first part", "row"]
    assert queries[2].startswith("INSERT INTO projection_dead_letters")  # its partial rows: gone
    assert queries[3:] == ["first part", "row"]


def test_stop_commits_what_came_before_parks_and_stops() -> None:
    views = FakeViews()
    processor = _processor(views, "stop")
    stopped = processor.process([_n(11, b""), _n(12, b"", OTHER), _n(13, b"raise"), _n(14, b"")])
    assert stopped == Stopped(13, "ValueError: cannot")
    assert views.commits[0] == (["first part", "row"], 10, 12)
    parked, expected, position = views.commits[1]
    assert parked[0].startswith("INSERT INTO projection_dead_letters") and len(parked) == 1
    assert (expected, position) == (12, 12)  # the tracking stays before the poison event
    assert processor.position == 12


@pytest.mark.parametrize("on_error", ["skip", "stop"])
def test_rows_the_database_refuses_are_found_one_event_at_a_time(on_error: OnError) -> None:
    views = FakeViews()
    processor = _processor(views, on_error)
    outcome = processor.process([_n(11, b""), _n(12, b"bad-sql"), _n(13, b""), _n(14, b"", OTHER)])
    assert views.commits[0] == (["first part", "row"], 10, 11)
    if on_error == "stop":
        assert outcome == Stopped(12, "IntegrityError: refused")
        assert len(views.commits) == 2 and views.commits[1][1:] == (11, 11)
        assert processor.position == 11
    else:
        assert outcome is None
        assert views.commits[1][0][0].startswith("INSERT INTO projection_dead_letters")
        assert [c[1:] for c in views.commits[1:]] == [(11, 12), (12, 13), (13, 14)]
        assert processor.position == 14


def test_a_transient_failure_is_not_poison() -> None:
    views = FakeViews(transient=True)
    processor = _processor(views, "skip")
    with pytest.raises(OperationalError):
        processor.process([_n(11, b"bad-sql")])
    assert views.commits == [] and processor.position == 10
