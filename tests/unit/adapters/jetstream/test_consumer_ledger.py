"""Given/When/Then tests of a following consumer's bookkeeping (no I/O): consumer sequences,
the last stream sequence handed on, credits, and when the consumer must be replaced."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.jetstream import consumer_ledger
from adapters.jetstream.consumer_ledger import ConsumerGap, ConsumerLedger

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(consumer_ledger, "_now", clock)
    return clock


def delivering(ledger: ConsumerLedger, seqs: list[int], first_cseq: int = 1) -> list[int]:
    """The stream sequences handed on, of deliveries in consumer sequence order."""
    return [seq for cseq, seq in enumerate(seqs, first_cseq) if ledger.delivered(seq, cseq)]


@given(st.lists(st.integers(1, 10_000), unique=True, max_size=50), st.integers(0, 5_000))
def test_in_order_deliveries_hand_on_each_later_stream_sequence_once(
    seqs: list[int], after: int
) -> None:
    # Given a consumer that follows from stream sequence `after`
    ledger = ConsumerLedger(batch=100, idle_heartbeat=1.0, position=after)
    # When its deliveries come in consumer sequence order, stream sequences in any order
    handed = delivering(ledger, seqs)
    # Then each one after the last handed on is handed on, and becomes the position
    expected, last = [], after
    for seq in seqs:
        if seq > last:
            expected.append(seq)
            last = seq
    assert handed == expected
    assert ledger.position == last
    assert ledger.expected == len(seqs) + 1


@given(st.integers(2, 60), st.data())
def test_any_sequence_of_deliveries_with_one_missing_is_a_gap(
    count: int, data: st.DataObject
) -> None:
    # Given a consumer whose deliveries 1..count come, but for one of them
    missing = data.draw(st.integers(1, count - 1), label="missing consumer sequence")
    ledger = ConsumerLedger(batch=1000, idle_heartbeat=1.0)
    ledger.asked()
    # When they are counted
    handed: list[int] = []
    with pytest.raises(ConsumerGap) as gap:
        for cseq in (c for c in range(1, count + 1) if c != missing):
            if ledger.delivered(100 + cseq, cseq):
                handed.append(100 + cseq)
    # Then the one after the missing one is a gap, named in the reason, and nothing of it
    # is counted: what comes before it was handed on, the position stays there
    assert str(gap.value) == f"consumer sequence {missing + 1} after {missing - 1}"
    assert handed == [100 + c for c in range(1, missing)]
    assert ledger.position == (100 + missing - 1 if missing > 1 else 0)
    assert ledger.expected == missing
    assert ledger.owed == 1000 - (missing - 1)


def test_a_delivery_repeated_is_a_gap_too() -> None:
    # Given a consumer that delivered consumer sequences 1 and 2
    ledger = ConsumerLedger(batch=10, idle_heartbeat=1.0)
    delivering(ledger, [5, 6])
    # When consumer sequence 2 comes again
    # Then it is not the next one
    with pytest.raises(ConsumerGap, match="consumer sequence 2 after 2"):
        ledger.delivered(6, 2)
    assert ledger.position == 6


Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), st.just(0)),
        st.tuples(st.just("deliver"), st.just(0)),
        st.tuples(st.just("release"), st.integers(0, 300)),
    ),
    max_size=200,
)


@given(st.integers(1, 300), steps)
def test_more_is_wanted_exactly_when_no_more_than_half_a_batch_is_owed(
    batch: int, plan: list[Step]
) -> None:
    # Given a consumer asked for batches, delivering, and releasing what ended requests owed
    ledger = ConsumerLedger(batch=batch, idle_heartbeat=1.0)
    owed, cseq = 0, 0
    for step, unsent in plan:
        # When each step is counted
        if step == "ask":
            ledger.asked()
            owed += batch
        elif step == "deliver":
            cseq += 1
            ledger.delivered(cseq, cseq)
            owed -= 1
        else:
            ledger.released(unsent)
            owed -= unsent
        # Then it owes what was asked for less what came or was released, and wants more
        # exactly when that is no more than half a batch
        assert ledger.owed == owed
        assert ledger.wants_more is (owed <= batch // 2)


def test_more_is_wanted_from_the_delivery_that_leaves_half_a_batch_owed() -> None:
    # Given a consumer asked for a batch of 10
    ledger = ConsumerLedger(batch=10, idle_heartbeat=1.0)
    ledger.asked()
    assert not ledger.wants_more
    # When 4 come, 6 are still owed: no more is wanted
    delivering(ledger, [1, 2, 3, 4])
    assert (ledger.owed, ledger.wants_more) == (6, False)
    # When the fifth comes, 5 are owed: more is wanted, and after asking no more
    delivering(ledger, [5], first_cseq=5)
    assert (ledger.owed, ledger.wants_more) == (5, True)
    ledger.asked()
    assert (ledger.owed, ledger.wants_more) == (15, False)


def test_a_new_consumer_owes_nothing_and_wants_a_batch() -> None:
    # Given a consumer that delivered, was asked for more, and is to be replaced
    ledger = ConsumerLedger(batch=8, idle_heartbeat=1.0)
    ledger.asked()
    delivering(ledger, [3, 4, 5])
    assert ledger.replace()
    # When a replacement is being made
    ledger.restart()
    # Then the replacement starts from consumer sequence 1, owes nothing, wants a batch, is
    # not to be replaced, and the position carries over
    assert (ledger.expected, ledger.owed, ledger.wants_more) == (1, 0, True)
    assert not ledger.replacing
    assert ledger.position == 5
    assert delivering(ledger, [5, 6]) == [6]


def test_the_consumer_is_to_be_replaced_once_until_a_replacement_is_made() -> None:
    # Given a consumer
    ledger = ConsumerLedger(batch=8, idle_heartbeat=1.0)
    assert not ledger.replacing
    # When it is to be replaced, for one reason and then another
    first, second = ledger.replace(), ledger.replace()
    # Then only the first says so; after a restart, it can be again
    assert (first, second, ledger.replacing) == (True, False, True)
    ledger.restart()
    assert ledger.replace()


@given(st.integers(0, 50), st.integers(0, 100))
def test_a_heartbeat_naming_a_later_consumer_sequence_is_a_verdict(
    delivered: int, named: int
) -> None:
    # Given a consumer that delivered `delivered` messages
    ledger = ConsumerLedger(batch=100, idle_heartbeat=1.0)
    delivering(ledger, list(range(1, delivered + 1)))
    # When an idle heartbeat says it last delivered consumer sequence `named`
    verdict = ledger.heartbeat(named)
    # Then it must be replaced if and only if that is later than the last delivered
    if named > delivered:
        assert verdict == f"heartbeat says consumer sequence {named}, have {delivered}"
    else:
        assert verdict is None


def test_silence_for_more_than_three_heartbeat_intervals_is_a_verdict(clock: Clock) -> None:
    # Given a consumer with 2 s heartbeats, last heard from now
    ledger = ConsumerLedger(batch=10, idle_heartbeat=2.0)
    ledger.hear()
    # When exactly three intervals pass, nothing is wrong yet
    clock.now += 6.0
    assert ledger.silence() is None
    # When a little more passes
    clock.now += 0.001
    # Then it must be replaced
    assert ledger.silence() == "no message or heartbeat for three intervals"


@pytest.mark.parametrize("heard_by", ["a delivery", "a status"])
def test_anything_heard_starts_the_silence_again(clock: Clock, heard_by: str) -> None:
    # Given a consumer silent for almost three intervals
    ledger = ConsumerLedger(batch=10, idle_heartbeat=1.0)
    clock.now += 2.9
    # When it is heard from
    if heard_by == "a delivery":
        ledger.delivered(1, 1)
    else:
        ledger.hear()
    # Then the silence counts from then
    clock.now += 2.9
    assert ledger.silence() is None
    clock.now += 0.2
    assert ledger.silence() is not None


def test_a_gap_still_counts_as_heard(clock: Clock) -> None:
    # Given a consumer silent for almost three intervals
    ledger = ConsumerLedger(batch=10, idle_heartbeat=1.0)
    clock.now += 2.9
    # When a delivery out of order comes
    with pytest.raises(ConsumerGap):
        ledger.delivered(7, 3)
    # Then the consumer was heard from (it is replaced for the gap, not for silence)
    clock.now += 2.9
    assert ledger.silence() is None
