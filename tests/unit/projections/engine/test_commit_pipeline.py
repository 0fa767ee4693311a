"""Committing one batch while the next is prepared: order, refusals and failures, with the
database faked (the worker's integration tests run it against PostgreSQL)."""

from __future__ import annotations

import threading
from contextlib import closing
from typing import Any, cast

import pytest
from eventsourcing.persistence import OperationalError

from projections.engine.batch_processor import Refused
from projections.engine.commit_pipeline import LINGER_S, CommitPipeline
from projections.engine.projector_base import Writes
from projections.engine.view_recorder import HoldCheck
from tests.unit.projections.engine.test_batch_processor import OTHER, FakeViews, _n, _processor

pytestmark = pytest.mark.unit


class GatedViews(FakeViews):
    """Commits wait for `gate` (a slow PostgreSQL), and say when they started."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.started = threading.Event()

    def commit(
        self,
        writes: Writes,
        name: str,
        expected: int | None,
        position: int | None,
        holds: HoldCheck | None = None,
    ) -> None:
        self.started.set()
        assert self.gate.wait(10)
        super().commit(writes, name, expected, position, holds)


def test_the_next_batch_is_prepared_while_the_previous_one_commits() -> None:
    views = GatedViews()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor)) as commits:
        assert commits.submit(processor.prepare([_n(11, b""), _n(12, b"")])) is None
        assert views.started.wait(10)
        # The first commit is blocked, and yet the next batch is decoded and handled.
        following = processor.prepare([_n(13, b"")])
        assert commits.busy and views.commits == [] and processor.position == 10
        views.gate.set()
        assert commits.submit(following) is None
        assert commits.drain() is None
    # In order, each expecting the position the one before it left.
    assert views.commits == [
        (["first part", "row", "first part", "row"], 10, 12),
        (["first part", "row"], 12, 13),
    ]
    assert processor.position == 13


def test_a_poison_event_does_not_stop_the_pipeline() -> None:
    views = FakeViews()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor)) as commits:
        assert commits.submit(processor.prepare([_n(11, b""), _n(12, b"raise")])) is None
        assert commits.submit(processor.prepare([_n(13, b"")])) is None
        assert commits.drain() is None
    assert [c[1:] for c in views.commits] == [(10, 12), (12, 13)]
    assert processor.position == 13


def test_a_batch_prepared_after_a_refused_one_is_dropped() -> None:
    views = FakeViews()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor)) as commits:
        # The database refuses event 12: found when the batch commits, one by one.
        assert commits.submit(processor.prepare([_n(11, b""), _n(12, b"bad-sql")])) is None
        later = processor.prepare([_n(13, b"")])
        refused = commits.submit(later)
        assert isinstance(refused, Refused) and refused.position == 12
        assert commits.drain() is None  # `later` was never started
    assert all(position != 13 for _, _, position in views.commits)
    assert processor.position == 12


def test_a_failed_commit_is_raised_and_nothing_after_it_is_applied() -> None:
    views = FakeViews(transient=True)
    processor = _processor(cast(Any, views), "stop")
    commits = CommitPipeline(processor)
    assert commits.submit(processor.prepare([_n(11, b"bad-sql")])) is None
    with pytest.raises(OperationalError):
        commits.submit(processor.prepare([_n(12, b"")]))
    commits.close()
    assert views.commits == [] and processor.position == 10


def test_close_waits_for_the_commit_in_flight() -> None:
    views = GatedViews()
    processor = _processor(cast(Any, views), "stop")
    commits = CommitPipeline(processor)
    commits.submit(processor.prepare([_n(11, b"")]))
    assert views.started.wait(10)
    threading.Timer(0.05, views.gate.set).start()
    commits.close()
    assert views.commits == [(["first part", "row"], 10, 11)]


def test_prepare_writes_nothing_until_applied() -> None:
    views = FakeViews()
    processor = _processor(cast(Any, views), "skip")
    prepared = processor.prepare([_n(11, b""), _n(12, b"raise")])
    assert views.commits == [] and processor.position == 10
    assert processor.apply(prepared) is None
    assert len(views.commits) == 1 and processor.position == 12


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_the_projector_does_not_handle_waits_for_the_next_one_that_changes_rows() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=0.05, clock=clock)) as commits:
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        assert commits.submit(processor.prepare([_n(12, b"", OTHER)])) is None
        assert commits.tick() is None
        assert views.commits == [] and commits.wait_s(0.2) == pytest.approx(0.05)
        assert commits.submit(processor.prepare([_n(13, b"")])) is None
        assert commits.drain() is None
        assert commits.wait_s(0.2) == 0.2  # nothing waits any more
    # One commit: from the position before the waiting batches to the handled event's.
    assert views.commits == [(["first part", "row"], 10, 13)]


def test_a_waiting_batch_is_committed_alone_once_it_waited_long_enough() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=0.05, clock=clock)) as commits:
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        clock.now += 0.03
        assert commits.submit(processor.prepare([_n(12, b"", OTHER)])) is None
        assert commits.tick() is None and views.commits == []
        assert commits.wait_s(0.2) == pytest.approx(0.02)  # due from the first one
        clock.now += 0.02
        assert commits.tick() is None and commits.drain() is None
    assert views.commits == [([], 10, 12)] and processor.position == 12


def test_a_waiting_batch_prepared_before_a_refusal_is_dropped() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=0.05, clock=clock)) as commits:
        assert commits.submit(processor.prepare([_n(11, b""), _n(12, b"bad-sql")])) is None
        refused = commits.submit(processor.prepare([_n(13, b"", OTHER)]))
        assert isinstance(refused, Refused) and refused.position == 12
        clock.now += 1
        assert commits.tick() is None and commits.drain() is None
    assert all(position != 13 for _, _, position in views.commits)
    assert processor.position == 12


def test_without_linger_every_batch_is_committed() -> None:
    views = FakeViews()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor)) as commits:
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        assert commits.drain() is None
    assert views.commits == [([], 10, 11)]


def test_a_waiting_batch_is_hurried_when_a_query_waits_for_a_position_it_reaches() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=5.0, clock=clock)) as commits:
        commits.hurry(12)  # nothing waits yet: nothing to hurry
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        assert commits.lingering and commits.wait_s(0.2) == 0.2
        commits.hurry(11)
        assert commits.wait_s(0.2) == 0.0
        assert commits.tick() is None and commits.drain() is None
        assert not commits.lingering
    assert views.commits == [([], 10, 11)]


def test_a_wait_for_a_position_not_read_yet_hurries_the_batch_as_without_listening() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=5.0, clock=clock)) as commits:
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        commits.hurry(20)
        assert commits.wait_s(1.0) == pytest.approx(LINGER_S)
        clock.now += LINGER_S
        assert commits.tick() is None and commits.drain() is None
        # The next such batch waits long again until someone asks.
        assert commits.submit(processor.prepare([_n(12, b"", OTHER)])) is None
        assert commits.wait_s(1.0) == 1.0 and commits.tick() is None
    assert views.commits == [([], 10, 11)]


def test_a_shorter_linger_applies_to_the_batch_already_waiting() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=5.0, clock=clock)) as commits:
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        clock.now += LINGER_S
        commits.linger = LINGER_S  # nobody listens any more: decision 0038's linger
        assert commits.wait_s(1.0) == 0.0
        assert commits.tick() is None and commits.drain() is None
    assert views.commits == [([], 10, 11)]


def test_flush_commits_the_waiting_batch_at_once() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=5.0, clock=clock)) as commits:
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        assert commits.flush() is None and not commits.busy
        assert commits.flush() is None  # nothing waits: nothing more
    assert views.commits == [([], 10, 11)] and processor.position == 11


def test_only_pages_the_projector_handles_wake_it_while_a_batch_waits() -> None:
    views, clock = FakeViews(), Clock()
    processor = _processor(cast(Any, views), "stop")
    with closing(CommitPipeline(processor, linger=0.05, clock=clock)) as commits:
        assert commits.wake_for is None  # any page starts a waiting batch
        assert commits.submit(processor.prepare([_n(11, b"", OTHER)])) is None
        assert commits.wake_for == processor.projector.topics
        clock.now += 0.05
        assert commits.tick() is None and commits.drain() is None
        assert commits.wake_for is None
    assert views.commits == [([], 10, 11)]
