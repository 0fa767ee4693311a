"""Batches, exactly-once bookkeeping and poison events, with the database faked."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Notification, OperationalError

from projections.engine.batch_processor import BatchProcessor, Refused
from projections.engine.projector_base import OnError, Projector, Writes, handles
from projections.engine.view_recorder import HoldCheck, HoldsChanged, ViewRecorder

pytestmark = pytest.mark.unit

TOPIC, OTHER = "m:A.Done", "m:B.Ignored"
X, Y = UUID(int=1), UUID(int=2)  # aggregates the tests name
PARK, HOLD, HELD = (
    "INSERT INTO projection_dead_letters",
    "INSERT INTO projection_holds",
    "INSERT INTO projection_dead_letters",
)


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
    """Records commits; refuses (as PostgreSQL would) any transaction with a BAD statement,
    and (as the hold check would) one that holds an aggregate `released` by a retry."""

    def __init__(self, transient: bool = False) -> None:
        self.commits: list[tuple[list[str], int | None, int | None]] = []
        self.checked: list[frozenset[str]] = []
        self.released: set[str] = set()
        self.transient = transient

    def commit(
        self,
        writes: Writes,
        name: str,
        expected: int | None,
        position: int | None,
        holds: HoldCheck | None = None,
    ) -> None:
        assert name == "numbers@g1"
        if holds is not None:
            assert holds[:2] == ("numbers", 1)
            self.checked.append(holds[2])
            if holds[2] & self.released:
                raise HoldsChanged("released")
        queries = [q for q, _, run in writes.runs() for _ in run]  # merged parts made
        if any("BAD" in q for q in queries):
            raise OperationalError("down") if self.transient else IntegrityError("refused")
        self.commits.append((queries, expected, position))


class Part:
    """A mergeable change: the parts of one aggregate in a batch make one statement."""

    def __init__(self, key: UUID, sql: str) -> None:
        self.merge_key = key
        self.sql = sql

    def merged(self, parts: Any) -> list[tuple[str, Any]]:
        return [("merged " + " + ".join(p.sql for p in parts), ())]


class Merging(Projector):
    name = "numbers"
    tables = ("numbers",)

    @handles(TOPIC)
    def done(self, event: Any, position: int, writes: Writes) -> None:
        # The notification stands for the event here.
        sql = "BAD" if event.state == b"bad-sql" else str(position)
        writes.merge(Part(event.originator_id, sql))


def _n(position: int, state: bytes, topic: str = TOPIC, of: UUID | None = None) -> Notification:
    return Notification(
        id=position, originator_id=of or uuid4(), originator_version=1, topic=topic, state=state
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


def test_stop_parks_the_poison_event_and_holds_only_its_aggregate() -> None:
    views = FakeViews()
    processor = _processor(views, "stop")
    batch = [
        _n(11, b"", of=Y),
        _n(12, b"", OTHER, of=X),
        _n(13, b"raise", of=X),
        _n(14, b"", of=X),
        _n(15, b"", of=Y),
    ]
    assert processor.process(batch) is None
    ((queries, expected, position),) = views.commits
    assert (expected, position) == (10, 15)  # one transaction, the tracking past all of it
    assert queries[:2] == ["first part", "row"]  # 11
    assert queries[2].startswith(PARK) and queries[3].startswith(HOLD)  # 13, its rows gone
    assert queries[4].startswith(HELD) and "'held'" in queries[4]  # 14: behind 13
    assert queries[5:] == ["first part", "row"]  # 15: another aggregate goes on
    assert processor.held == {str(X)} and views.checked == []

    # Later batches: X's events are held, the hold is checked at commit; Y goes on.
    assert processor.process([_n(16, b"", of=X), _n(17, b"", of=Y)]) is None
    queries, expected, position = views.commits[1]
    assert queries[0].startswith(HELD) and queries[1:] == ["first part", "row"]
    assert views.checked == [frozenset({str(X)})]


def test_a_batch_holding_an_aggregate_a_retry_released_is_not_written() -> None:
    views = FakeViews()
    processor = _processor(views, "stop")
    processor.process([_n(11, b"raise", of=X)])
    views.released.add(str(X))  # `cairn projector retry` applied it meanwhile
    with pytest.raises(HoldsChanged):
        processor.process([_n(12, b"", of=X)])
    assert len(views.commits) == 1 and processor.position == 11


@pytest.mark.parametrize("on_error", ["skip", "stop"])
def test_rows_the_database_refuses_are_found_one_event_at_a_time(on_error: OnError) -> None:
    views = FakeViews()
    processor = _processor(views, on_error)
    batch = [
        _n(11, b"", of=Y),
        _n(12, b"bad-sql", of=X),
        _n(13, b"", of=X),
        _n(14, b"", of=Y),
        _n(15, b"", OTHER),
    ]
    outcome = processor.process(batch)
    assert views.commits[0] == (["first part", "row"], 10, 11)
    assert [c[1:] for c in views.commits[1:]] == [(11, 12), (12, 13), (13, 14), (14, 15)]
    parked, held, other = (c[0] for c in views.commits[1:4])
    assert parked[0].startswith(PARK) and other == ["first part", "row"]
    if on_error == "stop":
        # 12 parked and X held, 13 held behind it; batches prepared meanwhile start again.
        assert outcome == Refused(12, "IntegrityError: refused")
        assert parked[1].startswith(HOLD) and held[0].startswith(HELD) and len(held) == 1
        assert processor.held == {str(X)}
    else:
        assert outcome is None and len(parked) == 1
        assert held == ["first part", "row"]
        assert processor.held == set()
    assert processor.position == 15


def test_a_transient_failure_is_not_poison() -> None:
    views = FakeViews(transient=True)
    processor = _processor(views, "skip")
    with pytest.raises(OperationalError):
        processor.process([_n(11, b"bad-sql")])
    assert views.commits == [] and processor.position == 10


def test_merged_rows_the_database_refuses_are_blamed_on_their_own_event() -> None:
    """A run's events are written as one statement; when the database refuses it, each event
    is applied again alone, so the event that was refused is parked, not the first one."""
    views = FakeViews()
    decode = lambda n: n  # noqa: E731
    processor = BatchProcessor(Merging(1), decode, cast(ViewRecorder, views), "stop", 10)
    batch = [_n(11, b"", of=X), _n(12, b"", of=Y), _n(13, b"bad-sql", of=X), _n(14, b"", of=Y)]
    outcome = processor.process(batch)
    assert outcome == Refused(13, "IntegrityError: refused")
    assert views.commits[:2] == [(["merged 11"], 10, 11), (["merged 12"], 11, 12)]
    parked = views.commits[2][0]
    assert parked[0].startswith(PARK) and parked[1].startswith(HOLD)
    assert views.commits[3] == (["merged 14"], 13, 14)
    assert processor.held == {str(X)} and processor.position == 14

    # Without a refusal, each aggregate's events are one statement.
    assert processor.process([_n(15, b"", of=Y), _n(16, b"", of=Y)]) is None
    assert views.commits[-1] == (["merged 15 + 16"], 14, 16)
