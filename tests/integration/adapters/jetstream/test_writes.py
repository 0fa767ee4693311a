"""Concurrency, atomicity and idempotency of appends, against a real nats-server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, StoredEvent

from adapters.jetstream import (
    BatchTooLarge,
    CommandAlreadyApplied,
    EventStoreOutcomeUnknown,
    Factory,
    JetStreamApplicationRecorder,
)
from domain.event_context import EventContext

FactoryMaker = Callable[..., Factory]

pytestmark = pytest.mark.integration


def recorder_of(factory: Factory) -> JetStreamApplicationRecorder:
    recorder = factory.application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    return recorder


def stored(originator_id: UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id, version, "tests.notes:Note.Edited", state)


def test_fifty_threads_saving_the_same_version_one_wins(make_factory: FactoryMaker) -> None:
    warm = recorder_of(make_factory())
    cold = recorder_of(make_factory())  # another process: knows nothing of the aggregate
    aggregate_id = uuid.uuid4()
    warm.insert_events([stored(aggregate_id, 1)])
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def save(number: int) -> None:
        recorder = warm if number % 2 else cold
        barrier.wait()
        try:
            recorder.insert_events([stored(aggregate_id, 2, f'{{"by":{number}}}'.encode())])
            outcome = "ok"
        except IntegrityError:
            outcome = "conflict"
        except Exception as e:  # anything else is a failure of the test
            outcome = repr(e)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(set(outcomes)) == ["conflict", "ok"], outcomes
    assert outcomes.count("ok") == 1
    assert outcomes.count("conflict") == 49
    events = cold.select_events(aggregate_id)
    assert [e.originator_version for e in events] == [1, 2]
    assert cold.max_notification_id() == 2  # nothing else was appended


def test_a_conflict_in_the_second_aggregate_leaves_nothing_of_the_first(
    make_factory: FactoryMaker,
) -> None:
    recorder = recorder_of(make_factory())
    first, second = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([stored(second, 1)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([stored(first, 1), stored(first, 2), stored(second, 1)])
    assert recorder.select_events(first) == []
    assert recorder.max_notification_id() == 1
    # The same through a fresh factory, whose first attempt cannot know about the conflict.
    cold = recorder_of(make_factory())
    with pytest.raises(IntegrityError):
        cold.insert_events([stored(first, 1), stored(second, 1)])
    assert cold.select_events(first) == []
    assert [n.id for n in cold.select_notifications(None, 10)] == [1]


def test_more_than_one_batch_is_refused_before_anything_is_sent(
    make_factory: FactoryMaker,
) -> None:
    recorder = recorder_of(make_factory())
    aggregate_id = uuid.uuid4()
    with pytest.raises(BatchTooLarge):
        recorder.insert_events([stored(aggregate_id, v) for v in range(1, 1002)])
    assert recorder.max_notification_id() is None


def lose_acks(factory: Factory, count: int) -> list[Any]:
    """Make the next ``count`` appends store their messages, then lose the answer."""
    appends = factory.client.appends
    original = appends.append
    acks: list[Any] = []

    def append(*args: Any, **kwargs: Any) -> Any:
        reply = original(*args, **kwargs)
        if len(acks) < count:
            acks.append(reply)
            raise EventStoreOutcomeUnknown("simulated: the ack was lost")
        return reply

    appends.append = append  # type: ignore[method-assign]
    return acks


@pytest.mark.parametrize("past_the_duplicate_window", [False, True])
def test_a_retried_command_never_appends_twice(
    make_factory: FactoryMaker, past_the_duplicate_window: bool
) -> None:
    factory = make_factory(NATS_DUPLICATE_WINDOW="1")
    recorder = recorder_of(factory)
    aggregate_id = uuid.uuid4()
    recorder.insert_events([stored(aggregate_id, 1)])  # created before, by another command
    events = [stored(aggregate_id, 2), stored(aggregate_id, 3)]
    lost = lose_acks(factory, 1)
    context = EventContext(tenant="acme", command_id="cmd-1")
    with pytest.raises(EventStoreOutcomeUnknown):
        recorder.insert_events(events, context=context)
    assert len(lost) == 1  # it was stored: only the answer was lost
    if past_the_duplicate_window:
        time.sleep(1.5)  # the server forgot the Nats-Msg-Id
    ids = recorder.insert_events(events, context=context)
    # Also from another process, which knows nothing of the first attempt.
    again = recorder_of(make_factory(NATS_DUPLICATE_WINDOW="1")).insert_events(
        events, context=context
    )
    assert ids == again == [3, 4]  # 2 is the command's marker
    assert [e.originator_version for e in recorder.select_events(aggregate_id)] == [1, 2, 3]
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 3, 4]


@pytest.mark.parametrize("past_the_duplicate_window", [False, True])
def test_a_retried_creation_never_appends_twice_and_needs_no_marker(
    make_factory: FactoryMaker, past_the_duplicate_window: bool
) -> None:
    factory = make_factory(NATS_DUPLICATE_WINDOW="1")
    recorder = recorder_of(factory)
    aggregate_id = uuid.uuid4()
    events = [stored(aggregate_id, 1), stored(aggregate_id, 2)]
    lost = lose_acks(factory, 2)  # the record's answer, then the events'
    context = EventContext(tenant="acme", command_id="cmd-1")
    with pytest.raises(EventStoreOutcomeUnknown):
        recorder.insert_events(events, context=context)
    with pytest.raises(EventStoreOutcomeUnknown):
        recorder.insert_events(events, context=context)
    assert len(lost) == 2
    if past_the_duplicate_window:
        time.sleep(1.5)
    ids = recorder.insert_events(events, context=context)
    again = recorder_of(make_factory(NATS_DUPLICATE_WINDOW="1")).insert_events(
        events, context=context
    )
    # Recognised by the command id in the aggregate's first event: no marker was stored.
    assert ids == again == [1, 2]
    assert [e.originator_version for e in recorder.select_events(aggregate_id)] == [1, 2]
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 2]


def test_a_command_id_applied_with_other_events_is_reported(make_factory: FactoryMaker) -> None:
    recorder = recorder_of(make_factory())
    aggregate_id = uuid.uuid4()
    recorder.insert_events([stored(aggregate_id, 1)])
    context = EventContext(command_id="cmd-2")
    ids = recorder.insert_events([stored(aggregate_id, 2)], context=context)
    with pytest.raises(CommandAlreadyApplied) as raised:
        recorder.insert_events([stored(aggregate_id, 3)], context=context)
    assert raised.value.notification_ids == ids
    assert [e.originator_version for e in recorder.select_events(aggregate_id)] == [1, 2]


def test_a_creation_retried_with_other_events_is_reported(make_factory: FactoryMaker) -> None:
    recorder = recorder_of(make_factory())
    aggregate_id = uuid.uuid4()
    context = EventContext(command_id="cmd-3")
    ids = recorder.insert_events([stored(aggregate_id, 1)], context=context)
    retrying = recorder_of(make_factory())  # another process: knows nothing of the first
    other = StoredEvent(aggregate_id, 1, "tests.notes:Note.Created", b"{}")
    with pytest.raises(CommandAlreadyApplied) as raised:
        retrying.insert_events([other], context=context)
    assert raised.value.notification_ids == ids
    # The same aggregate created by another command is a conflict, as ever.
    with pytest.raises(IntegrityError):
        retrying.insert_events([stored(aggregate_id, 1)], context=EventContext(command_id="x"))


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


class Notes(Application[UUID]):
    def create(self, text: str) -> UUID:
        note = Note(text)
        self.save(note)
        return note.id

    def edit(self, note_id: UUID, text: str, context: EventContext) -> None:
        note: Note = self.repository.get(note_id)
        note.edit(text)
        self.save(note, context=context)


def test_an_application_command_retried_after_a_lost_ack(make_factory: FactoryMaker) -> None:
    factory = make_factory()  # creates the stream; the application makes its own factory
    app = Notes(env=dict(factory.env))
    try:
        note_id = app.create("first")
        lose_acks(app.factory, 1)  # type: ignore[arg-type]
        context = EventContext(tenant="acme", actor="u1", command_id="edit-1")
        with pytest.raises(EventStoreOutcomeUnknown):
            app.edit(note_id, "second", context)
        # The retry re-runs the command on the state that now includes its own events:
        # the store reports it was applied, with the positions of the first attempt.
        with pytest.raises(CommandAlreadyApplied) as raised:
            app.edit(note_id, "second", context)
        assert raised.value.notification_ids == [3]
        note: Note = app.repository.get(note_id)
        assert (note.text, note.version) == ("second", 2)
    finally:
        app.close()
