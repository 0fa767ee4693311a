"""Aggregate records (decision 0009): a load asks the server for literal subjects only; streams
from before records are read and written as then, and the backfill brings them over."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, StoredEvent

from adapters.jetstream import Factory, JetStreamApplicationRecorder
from adapters.jetstream.backfill import backfill
from adapters.jetstream.client import NatsClient
from adapters.jetstream.errors import StreamConfigurationError
from adapters.jetstream.locator import records_stream
from adapters.jetstream.stream import StreamSpec, desired_config
from domain.event_context import EventContext

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]


class Intent(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Refined")
    def refine(self, text: str) -> None:
        self.text = text


def recorder_of(factory: Factory) -> JetStreamApplicationRecorder:
    recorder = factory.application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    return recorder


def spy_reads(client: NatsClient) -> list[tuple[str, str]]:
    """(stream, subject filter) of every direct get the client sends from now on."""
    reads: list[tuple[str, str]] = []
    direct_get, request_page = client.direct_get, client.request_page

    def spied_get(stream: str, body: Any) -> Any:
        reads.append((stream, body.get("last_by_subj") or body.get("next_by_subj")))
        return direct_get(stream, body)

    def spied_page(stream: str, body: Any, decode: Any) -> Any:
        reads.append((stream, body["next_by_subj"]))
        return request_page(stream, body, decode)

    client.direct_get = spied_get  # type: ignore[method-assign]
    client.request_page = spied_page  # type: ignore[method-assign]
    return reads


def test_loading_asks_for_literal_subjects_only(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    factory = make_factory()
    app = Application[UUID](env=dict(factory.env))
    try:
        intent = Intent("book a table")
        intent.refine("for two")
        app.save(intent, context=EventContext(tenant="acme"))
    finally:
        app.close()
    record = factory.client.direct_get(
        records_stream(unique_name), {"last_by_subj": f"{unique_name}_aggregates.{intent.id}"}
    )
    assert record is not None and record.headers is not None
    assert record.headers["Cairn-Aggregate-Subject"] == "acme.Intent"

    cold = make_factory()  # another process: it knows nothing of the aggregate
    reads = spy_reads(cold.client)
    events = recorder_of(cold).select_events(intent.id)
    assert [e.originator_version for e in events] == [1, 2]
    assert reads == [
        (records_stream(unique_name), f"{unique_name}_aggregates.{intent.id}"),
        (unique_name, f"{unique_name}.acme.Intent.{intent.id}"),
    ]
    reads.clear()
    assert len(recorder_of(cold).select_events(intent.id)) == 2
    assert reads == [(unique_name, f"{unique_name}.acme.Intent.{intent.id}")]


def test_an_aggregate_without_a_record_has_no_events_and_costs_one_lookup(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    recorder = recorder_of(make_factory())
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "m:Run.Started", b"{}")])
    reads = spy_reads(recorder.events.client)
    assert recorder.select_events(uuid.uuid4()) == []
    assert [stream for stream, _ in reads] == [records_stream(unique_name)]


def test_an_aggregate_keeps_its_subject_whoever_saves_it(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    recorder = recorder_of(make_factory())
    aggregate_id = uuid.uuid4()
    one, two = EventContext(tenant="one"), EventContext(tenant="two")
    recorder.insert_events([StoredEvent(aggregate_id, 1, "m:Run.Started", b"{}")], context=one)
    recorder.insert_events([StoredEvent(aggregate_id, 2, "m:Run.Stopped", b"{}")], context=two)
    for seq in (1, 2):
        msg = recorder.events.client.direct_get(unique_name, {"seq": seq})
        assert msg is not None and msg.headers is not None
        assert msg.headers["Nats-Subject"] == f"{unique_name}.one.Run.{aggregate_id}"
        assert msg.headers["Cairn-Tenant"] == ("one" if seq == 1 else "two")
    assert [e.originator_version for e in recorder.select_events(aggregate_id)] == [1, 2]


def test_an_id_being_created_by_another_tenant_is_refused(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    factory = make_factory()
    recorder = recorder_of(factory)
    locator = recorder.events.reader.locator
    aggregate_id = uuid.uuid4()
    # Tenant one's creation stored the record; its events are not stored yet.
    record = locator.record_frame(str(aggregate_id), "one.Run", b"")
    assert not factory.client.appends.append(locator.records_stream, [record], frozenset()).get(
        "error"
    )
    assert locator.tail(str(aggregate_id)) == "one.Run"
    created = [StoredEvent(aggregate_id, 1, "m:Run.Started", b"{}")]
    for other in (recorder, recorder_of(make_factory())):  # it knows the record, or not yet
        with pytest.raises(IntegrityError, match="being created"):
            other.insert_events(created, context=EventContext(tenant="two"))
    recorder.insert_events(created, context=EventContext(tenant="one"))  # the creator goes on
    msg = factory.client.direct_get(unique_name, {"last_by_subj": f"{unique_name}.>"})
    assert msg is not None and msg.headers is not None
    assert msg.headers["Nats-Subject"] == f"{unique_name}.one.Run.{aggregate_id}"


def _stream_from_before_records(factory: Factory, name: str) -> None:
    """An events stream as created before aggregate records, holding old-style events: one
    aggregate saved under two tenants (two subjects), one under one."""
    config = desired_config(StreamSpec(name, name), factory.settings)
    factory.client.api(f"STREAM.CREATE.{name}", config)


def _old_event(factory: Factory, name: str, tenant: str, aggregate_id: UUID, version: int) -> None:
    headers = {
        "Cairn-Topic": "m:Run.Changed",
        "Cairn-Originator-Version": str(version),
        "Cairn-Tenant": tenant,
        "Cairn-Actor": "system",
    }
    subject = f"{name}.{tenant}.Run.{aggregate_id}"
    ack = factory.client.request(subject, b"{}", headers, write=True)
    assert b"error" not in ack.data


def test_a_stream_from_before_records_is_read_and_written_as_then_until_backfilled(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    setup = make_factory()
    _stream_from_before_records(setup, unique_name)
    moved, kept = uuid.uuid4(), uuid.uuid4()
    _old_event(setup, unique_name, "one", moved, 1)
    _old_event(setup, unique_name, "two", moved, 2)
    _old_event(setup, unique_name, "one", kept, 1)

    old = recorder_of(make_factory())
    assert not old.events.reader.locator.records_complete
    assert [e.originator_version for e in old.select_events(moved)] == [1, 2]
    with pytest.raises(IntegrityError):  # one id, one aggregate
        old.insert_events(
            [StoredEvent(kept, 1, "m:Run.Changed", b"{}")], context=EventContext(tenant="three")
        )
    created, one = uuid.uuid4(), EventContext(tenant="one")
    old.insert_events([StoredEvent(created, 1, "m:Run.Changed", b"{}")], context=one)
    old.insert_events([StoredEvent(kept, 2, "m:Run.Changed", b"{}")], context=one)

    report = backfill(make_factory())
    assert (report.aggregates, report.written, report.several_subjects) == (3, 3, 1)
    assert backfill(make_factory()).already_complete

    new = make_factory()
    recorder = recorder_of(new)
    assert recorder.events.reader.locator.records_complete
    reads = spy_reads(new.client)
    assert [e.originator_version for e in recorder.select_events(moved)] == [1, 2]
    assert [e.originator_version for e in recorder.select_events(kept)] == [1, 2]
    assert [e.originator_version for e in recorder.select_events(created)] == [1]
    event_filters = [subject for stream, subject in reads if stream == unique_name]
    assert event_filters == [
        f"{unique_name}.*.*.{moved}",  # under two subjects: read as before
        f"{unique_name}.one.Run.{kept}",
        f"{unique_name}.one.Run.{created}",
    ]
    two = EventContext(tenant="two")
    recorder.insert_events([StoredEvent(kept, 3, "m:Run.Changed", b"{}")], context=two)
    recorder.insert_events([StoredEvent(moved, 3, "m:Run.Changed", b"{}")], context=two)
    assert [e.originator_version for e in recorder.select_events(kept)] == [1, 2, 3]
    assert [e.originator_version for e in recorder.select_events(moved)] == [1, 2, 3]


def test_processes_starting_together_on_a_new_store_all_use_records(
    make_factory: FactoryMaker,
) -> None:
    factories = [make_factory() for _ in range(6)]
    with ThreadPoolExecutor(len(factories)) as pool:
        recorders = list(pool.map(recorder_of, factories))
    assert all(r.events.reader.locator.records_complete for r in recorders)


def test_a_missing_records_stream_is_refused(make_factory: FactoryMaker, unique_name: str) -> None:
    factory = make_factory()
    recorder_of(factory).insert_events([StoredEvent(uuid.uuid4(), 1, "m:Run.Started", b"{}")])
    factory.client.api(f"STREAM.DELETE.{records_stream(unique_name)}")
    with pytest.raises(StreamConfigurationError, match="made again"):
        make_factory().application_recorder()


def test_a_delivered_subject_spares_the_lookup_and_a_bounded_load_reads_no_further(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    """A consumer's delivery names where its aggregate's events are (decision 0047): the load
    that follows reads them without the record; and a load up to a version asks for no more
    messages than that version (not every later event with the page)."""
    factory = make_factory()
    app = Application[UUID](env=dict(factory.env))
    try:
        intent = Intent("book a table")
        intent.refine("for two")
        intent.refine("at eight")
        app.save(intent, context=EventContext(tenant="acme"))
    finally:
        app.close()
    subject = f"{unique_name}.acme.Intent.{intent.id}"

    cold = make_factory()  # another process, handed a delivery of the aggregate's first event
    recorder = recorder_of(cold)
    for not_an_event_of_it in (
        f"{unique_name}_aggregates.{intent.id}",
        f"{unique_name}x.acme.Intent.{intent.id}",
        f"{unique_name}.acme.Intent.{intent.id}.more",
    ):
        recorder.observe_event_subject(not_an_event_of_it)
    assert recorder.events.reader.locator.known_tail(str(intent.id)) is None
    recorder.observe_event_subject(subject)

    pages: list[tuple[str, str, int]] = []
    request_page = cold.client.request_page

    def spied_page(stream: str, body: Any, decode: Any) -> Any:
        pages.append((stream, body["next_by_subj"], body["batch"]))
        return request_page(stream, body, decode)

    cold.client.request_page = spied_page  # type: ignore[method-assign]
    cold.client.direct_get = None  # type: ignore[assignment]  # no single get: no record read
    assert [e.originator_version for e in recorder.select_events(intent.id, lte=1)] == [1]
    assert pages == [(unique_name, subject, 1)]
    pages.clear()
    assert [e.originator_version for e in recorder.select_events(intent.id, lte=2)] == [1, 2]
    assert [e.originator_version for e in recorder.select_events(intent.id)] == [1, 2, 3]
    assert [batch for _, _, batch in pages] == [2, 1000]


def test_a_creation_appends_its_record_then_its_events_and_reads_nothing(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    """A new aggregate's save costs two appends, the record's and the events', and no lookup
    (0047's addendum): the record's expected sequence 0 is what refuses a second version 1 of
    the id under another tenant or type, and a process that never saw the save finds the
    events through it."""
    factory = make_factory()
    recorder = recorder_of(factory)
    appended: list[str] = []
    append = factory.client.appends.append

    def spied_append(stream: str, frames: Any, keys: Any, **options: Any) -> Any:
        appended.append(stream)
        return append(stream, frames, keys, **options)

    factory.client.appends.append = spied_append  # type: ignore[method-assign]
    reads = spy_reads(factory.client)
    aggregate_id = uuid.uuid4()
    created = [StoredEvent(aggregate_id, 1, "m:Run.Started", b"{}")]
    recorder.insert_events(created, context=EventContext(tenant="one"))
    assert appended == [records_stream(unique_name), unique_name]
    assert reads == []

    for tenant in ("one", "two"):  # the same id again: a process that knows it, one that does not
        for other in (recorder, recorder_of(make_factory())):
            with pytest.raises(IntegrityError):
                other.insert_events(created, context=EventContext(tenant=tenant))
    cold = recorder_of(make_factory())
    assert [(e.originator_version, e.topic) for e in cold.select_events(aggregate_id)] == [
        (1, "m:Run.Started")
    ]
    assert cold.max_notification_id() == 1  # nothing of the refused saves was stored


def test_concurrent_creations_of_one_id_under_two_tenants_store_one(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    """Creations racing for one id (half of them in a process that knows nothing of it) store
    one version 1 in all; the loads of a third process find that one's events."""
    warm, other = recorder_of(make_factory()), recorder_of(make_factory())
    aggregate_id = uuid.uuid4()
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def create(number: int) -> None:
        tenant = "one" if number % 2 else "two"
        event = StoredEvent(aggregate_id, 1, "m:Run.Started", f'{{"by":{number}}}'.encode())
        barrier.wait()
        try:
            (warm if number % 4 < 2 else other).insert_events(
                [event], context=EventContext(tenant=tenant)
            )
            outcomes.append(f"ok {tenant}")
        except IntegrityError:
            outcomes.append("conflict")

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(create, range(20)))
    winners = [outcome for outcome in outcomes if outcome.startswith("ok")]
    assert len(winners) == 1 and outcomes.count("conflict") == 19, outcomes
    tenant = winners[0].removeprefix("ok ")
    cold = recorder_of(make_factory())
    assert [e.originator_version for e in cold.select_events(aggregate_id)] == [1]
    assert cold.max_notification_id() == 1
    msg = cold.events.client.direct_get(unique_name, {"seq": 1})
    assert msg is not None and msg.headers is not None
    assert msg.headers["Nats-Subject"] == f"{unique_name}.{tenant}.Run.{aggregate_id}"
