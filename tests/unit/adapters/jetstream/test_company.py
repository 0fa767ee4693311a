"""When group commit holds a group that must go as an atomic batch for other saves to share
it (decision 0072): only while saves arrive faster than the wait, at most the wait, and never
for single messages (no server needed: the loop's clock and timers are the test's)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import pytest
from eventsourcing.persistence import InfrastructureFactoryError
from eventsourcing.utils import Environment
from hypothesis import given
from hypothesis import strategies as st

from adapters.jetstream.appends import GroupCommit
from adapters.jetstream.batches import MAX_BATCH
from adapters.jetstream.queued import ARRIVAL_WEIGHT, QueuedSave, StreamQueue
from adapters.jetstream.settings import JetStreamSettings

pytestmark = pytest.mark.unit

WAIT = 0.010


class _Timer:
    def __init__(self, at: float, callback: Any, args: tuple[Any, ...]) -> None:
        self.at, self.callback, self.args, self.was_cancelled = at, callback, args, False

    def cancel(self) -> None:
        self.was_cancelled = True

    def cancelled(self) -> bool:
        return self.was_cancelled


class _Loop:
    """The clock and timers of the client's loop; `fire` runs the timers that are due."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[_Timer] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any, *args: Any) -> _Timer:
        timer = _Timer(self.now + delay, callback, args)
        self.timers.append(timer)
        return timer

    def create_task(self, coroutine: Any) -> _Done:
        coroutine.close()  # the group's send: not this test's subject
        return _Done()

    def fire(self) -> None:
        for timer in [t for t in self.timers if t.at <= self.now and not t.cancelled()]:
            self.timers.remove(timer)
            timer.callback(*timer.args)


class _Done:
    """A group's send, over as soon as it is made."""

    def add_done_callback(self, callback: Any) -> None:
        callback(self)


def client(loop: _Loop) -> tuple[GroupCommit, list[list[QueuedSave]]]:
    """A group commit that records each group it would send instead of sending it."""
    made = GroupCommit(
        _Connected(),  # type: ignore[arg-type]
        loop,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]  # nothing is sent
        url="nats://test",
        request_timeout=5.0,
        max_inflight=3,
        max_group=MAX_BATCH,
        linger=0.0,
        batch_linger=WAIT,
    )
    sent: list[list[QueuedSave]] = []
    take_group = made._take_group

    def recorded(pending: Any) -> list[QueuedSave]:
        group = take_group(pending)
        sent.append(group)
        return group

    made._take_group = recorded  # type: ignore[method-assign]
    return made, sent


def save(messages: int, key: str) -> QueuedSave:
    frames = [(b"s", b"", b"")] * messages
    return QueuedSave("stream", frames, frozenset({key}), concurrent.futures.Future())


def arrive(made: GroupCommit, loop: _Loop, item: QueuedSave, after: float) -> StreamQueue:
    loop.now += after
    made._enqueue(item)
    return made._queues["stream"]


def nothing_in_flight(made: GroupCommit) -> None:
    for queue in made._queues.values():
        queue.inflight = 0


def test_at_a_low_rate_an_atomic_batch_leaves_at_once() -> None:
    loop = _Loop()
    made, sent = client(loop)
    for n in range(5):
        arrive(made, loop, save(3, f"run{n}"), after=0.080)  # 12 saves/s: 80 ms apart
        nothing_in_flight(made)
    assert [len(group) for group in sent] == [1, 1, 1, 1, 1]
    assert not loop.timers


def test_when_saves_come_faster_than_the_wait_an_atomic_batch_waits_for_them() -> None:
    loop = _Loop()
    made, sent = client(loop)
    for n in range(60):  # 500 saves/s of one message each: no batch to share, none waits
        arrive(made, loop, save(1, f"single{n}"), after=0.002)
        nothing_in_flight(made)
    assert len(sent) == 60 and not loop.timers
    first = save(3, "run1")
    queue = arrive(made, loop, first, after=0.002)
    assert sent[-1][-1] is not first and queue.company_timer is not None  # it waits
    second, single = save(3, "run2"), save(1, "run3")
    arrive(made, loop, second, after=0.004)
    arrive(made, loop, single, after=0.003)
    assert len(loop.timers) == 1  # one wait for the group, not one per save
    loop.now = 100.0 + 60 * 0.002 + 0.002 + WAIT  # the wait is over
    loop.fire()
    assert sent[-1] == [first, second, single]
    assert queue.company_timer is None and not queue.company_waited
    nothing_in_flight(made)
    third = save(3, "run4")
    arrive(made, loop, third, after=0.001)
    assert queue.company_timer is not None  # the next atomic batch waits again


def test_a_full_batch_does_not_wait() -> None:
    loop = _Loop()
    made, sent = client(loop)
    made._max_group = 6
    for n in range(60):
        arrive(made, loop, save(1, f"single{n}"), after=0.001)
        nothing_in_flight(made)
    waiting = save(3, "run1")
    queue = arrive(made, loop, waiting, after=0.001)
    assert queue.company_timer is not None
    timer = queue.company_timer
    filling = save(3, "run2")
    arrive(made, loop, filling, after=0.001)
    assert sent[-1] == [waiting, filling]  # six messages: a whole batch leaves now
    assert timer.cancelled() and queue.company_timer is None


def test_a_group_waiting_for_company_leaves_when_the_client_settles() -> None:
    loop = _Loop()
    made, sent = client(loop)
    for n in range(60):
        arrive(made, loop, save(1, f"single{n}"), after=0.002)
        nothing_in_flight(made)
    waiting = save(3, "run1")
    queue = arrive(made, loop, waiting, after=0.002)
    timer = queue.company_timer
    assert timer is not None and sent[-1][-1] is not waiting
    asyncio.run(made.settle(within=0.0))  # closing: nothing waits for company any more
    assert sent[-1] == [waiting]
    assert timer.cancelled() and queue.company_timer is None


@given(st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=50))
def test_the_mean_interval_stays_within_what_was_seen_and_forgets_slowly(
    gaps: list[float],
) -> None:
    queue = StreamQueue()
    start = queue.interval
    now = 0.0
    queue.arrived(now)
    for gap in gaps:
        before = queue.interval
        now += gap
        queue.arrived(now)
        seen = min(gap, 1.0)  # a long quiet counts as a second
        assert min(before, seen) - 1e-9 <= queue.interval <= max(before, seen) + 1e-9
        assert queue.interval == pytest.approx(before + ARRIVAL_WEIGHT * (seen - before))
    assert 0.0 <= queue.interval <= max(start, 1.0)


class _Connected:
    is_connected = True


@pytest.mark.parametrize(("given", "wait"), [(None, 0.010), ("0", 0.0), ("0.25", 0.25)])
def test_the_wait_is_set_by_nats_batch_linger(given: str | None, wait: float) -> None:
    env = {"NATS_URL": "nats://127.0.0.1:4222"}
    if given is not None:
        env["NATS_BATCH_LINGER"] = given
    assert JetStreamSettings.from_env(Environment(env=env)).batch_linger == wait


@pytest.mark.parametrize("given", ["-0.001", "1.5"])
def test_a_wait_outside_zero_to_a_second_is_refused(given: str) -> None:
    env = {"NATS_URL": "nats://127.0.0.1:4222", "NATS_BATCH_LINGER": given}
    refused = r"NATS_BATCH_LINGER must be 0\.\.1 seconds"
    with pytest.raises(InfrastructureFactoryError, match=refused):
        JetStreamSettings.from_env(Environment(env=env))
