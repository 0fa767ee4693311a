"""What lands in the stream: subjects per tenant and kind, metadata headers, string ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import DataError, IntegrityError, StoredEvent

from adapters.jetstream import Factory, JetStreamApplicationRecorder
from domain.event_context import EventContext

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]


class Intent(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Refined")
    def refine(self, text: str) -> None:
        self.text = text


def test_events_carry_tenant_kind_and_metadata(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    factory = make_factory()
    app = Application[UUID](env=dict(factory.env))
    try:
        context = EventContext(
            tenant="acme",
            actor="user-7",
            device="glasses-1",
            correlation_id="corr-1",
            causation_id="cause-1",
        )
        intent = Intent("book a table")
        intent.refine("book a table for two")
        app.save(intent, context=context)
        msg = factory.client.direct_get(unique_name, {"last_by_subj": f"{unique_name}.>"})
        assert msg is not None and msg.headers is not None
        assert msg.headers["Nats-Subject"] == f"{unique_name}.acme.Intent.{intent.id}"
        assert msg.headers["Cairn-Tenant"] == "acme"
        assert msg.headers["Cairn-Actor"] == "user-7"
        assert msg.headers["Cairn-Device"] == "glasses-1"
        assert msg.headers["Cairn-Correlation-Id"] == "corr-1"
        assert msg.headers["Cairn-Causation-Id"] == "cause-1"
        assert msg.headers["Cairn-Originator-Version"] == "2"
        assert msg.headers["Cairn-Topic"].endswith("Intent.Refined")
        # Loading needs no tenant; one tenant can be read alone by subject.
        assert app.repository.get(intent.id).text == "book a table for two"
        other = factory.client.direct_get(unique_name, {"last_by_subj": f"{unique_name}.other.>"})
        assert other is None
    finally:
        app.close()


def test_without_a_context_events_belong_to_the_system(
    make_factory: FactoryMaker, unique_name: str
) -> None:
    factory = make_factory()
    recorder = factory.application_recorder()
    originator_id = uuid.uuid4()
    recorder.insert_events([StoredEvent(originator_id, 1, "m:Run.Started", b"{}")])
    msg = factory.client.direct_get(unique_name, {"last_by_subj": f"{unique_name}.>"})
    assert msg is not None and msg.headers is not None
    assert msg.headers["Nats-Subject"] == f"{unique_name}.system.Run.{originator_id}"
    assert msg.headers["Cairn-Actor"] == "system"
    assert "Cairn-Correlation-Id" not in msg.headers


def test_an_aggregate_id_is_one_aggregate_across_tenants(make_factory: FactoryMaker) -> None:
    recorder = make_factory().application_recorder()
    originator_id = uuid.uuid4()
    event = StoredEvent(originator_id, 1, "m:Run.Started", b"{}")
    recorder.insert_events([event], context=EventContext(tenant="one"))
    with pytest.raises(IntegrityError):
        recorder.insert_events([event], context=EventContext(tenant="two"))


@pytest.mark.parametrize(
    "originator_id", ["plain-id", "with.dots and spaces", "star*gt>", "ünïcode/ид", "%41"]
)
def test_string_ids_round_trip(make_factory: FactoryMaker, originator_id: str) -> None:
    recorder = make_factory().application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    event = StoredEvent(originator_id, 1, "m:Doc.Created", b"{}")
    recorder.insert_events([event])
    assert recorder.select_events(originator_id) == [event]
    (notification,) = recorder.select_notifications(None, 10)
    assert notification.originator_id == originator_id


def test_invalid_tenants_are_refused(make_factory: FactoryMaker) -> None:
    recorder = make_factory().application_recorder()
    with pytest.raises(DataError, match="tenant"):
        recorder.insert_events(
            [StoredEvent(uuid.uuid4(), 1, "m:Run.Started", b"{}")],
            context=EventContext(tenant="acme.corp"),
        )
    assert recorder.max_notification_id() is None
