"""The learner job against the real event store and PostgreSQL: a note's MemoryNoted as the
workers' consumer hands it over, handled, then handed over again (a redelivery after a lost
ack): the person's model is asked once, the facts are recorded once and cite the note's event;
an event of another kind is acknowledged without work. The learner's consumer, as a worker
creates it, is sent headers only and no run events (also where an earlier version created it
with bodies and the runs' subjects), and learns through it. A run handed over by the worker
that took its steps is learnt from without a load when it is what this process stored;
otherwise the run is loaded."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nats
import pytest
from pydantic import SecretStr

from adapters.context.extraction import LiteLLMExtractor
from adapters.jetstream import headers as h
from adapters.jetstream.work import WorkItem
from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from commands.base import Caller, Issued
from commands.bootstrap import Services, bootstrap
from commands.context.background import intent_memory_id
from commands.context.notes import NoteMemory
from commands.learning_service import LearningService, backoff
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.intents import SubmitIntent
from commands.runs.provider_keys import store_provider_key
from domain.event_context import EventContext
from domain.runs.run import Run
from infra.stack.launcher import StackEndpoints
from tests.support.cairn_settings import isolated_settings

pytestmark = pytest.mark.integration

ANSWER = {
    "entities": [
        {"name": "Jo Park", "facts": [{"predicate": "phone", "value": "+44 20 7946 0000"}]}
    ]
}


@pytest.fixture
def services(
    stack: StackEndpoints, migrated_database_url: str, unique_name: str, tmp_path: Path
) -> Iterator[Services]:
    services = bootstrap(isolated_settings(stack, migrated_database_url, unique_name, tmp_path))
    try:
        yield services
    finally:
        services.close()


def _item(services: Services, tenant: uuid.UUID, memory_id: uuid.UUID, name: str) -> WorkItem:
    """The message of the memory's event as the consumer hands it over."""
    stored = services.context.app.recorder.select_events(memory_id)
    (event,) = [s for s in stored if s.topic.endswith(f".{name}")]
    prefix = services.settings.subject_prefix
    subject = f"{prefix}.{tenant}.Memory.{h.id_token(memory_id)}"
    headers = {h.TENANT: str(tenant), h.TOPIC: event.topic}
    return WorkItem(subject, headers, stream_sequence=1, deliveries=1)


def _block(headers: Mapping[str, str]) -> bytes:
    """The raw header block a headers-only delivery of these headers brings."""
    lines = b"".join(h.header_line(name, value) for name, value in headers.items())
    return b"NATS/1.0\r\n" + lines + b"\r\n"


def _learning_with_a_model(services: Services) -> tuple[Caller, LearningService, list[str]]:
    """A person with a model key, and a learning service whose model answers ANSWER and
    records each model it was asked through."""
    tenant = uuid.uuid4()
    who = Caller(tenant, "ada", session_id=str(uuid.uuid4()))
    credential = ProviderCredential(api_key=SecretStr("sk-test-1"))
    store_provider_key(services.identity.vault, tenant, LlmProvider.OPENAI, credential)
    asked: list[str] = []

    def answer(model: str) -> MockAnswer:
        asked.append(model)
        return MockAnswer.text(json.dumps(ANSWER))

    learning = LearningService(services)
    learner = learning.learner
    learner.ports = dataclasses.replace(
        learner.ports, extractor=LiteLLMExtractor(LiteLLMGateway(answer))
    )
    return who, learning, asked


def test_a_redelivered_note_is_learnt_from_once(services: Services) -> None:
    who, learning, asked = _learning_with_a_model(services)
    tenant = who.tenant_id
    noted = services.commands.dispatch(
        NoteMemory(text="Climbed with Jo Park at the quarry"),
        Issued(caller=who, command_id=str(uuid.uuid4())),
    )
    memory_id = uuid.UUID(noted.ids["memory_id"])
    item = _item(services, tenant, memory_id, "MemoryNoted")
    assert not learning.skip(item.subject.encode(), _block(item.headers))
    taught = {**item.headers, h.TOPIC: item.headers[h.TOPIC].replace("Noted", "Taught")}
    assert learning.skip(item.subject.encode(), _block(taught))

    assert learning.handle(item) is None
    assert learning.handle(dataclasses.replace(item, deliveries=2)) is None

    assert len(asked) == 1
    events = [type(e).__name__ for e in services.context.app.events.get(memory_id)]
    assert events == ["MemoryNoted", "MemoryTaught"]  # the rules found nothing; the model once
    memory: Any = services.context.app.repository.get(memory_id)
    assert memory.learnt_from == [f"Memory:{memory_id}:1"]
    (jo,) = memory.taught
    events_of_jo: list[Any] = list(services.context.app.events.get(jo))
    facts = [e for e in events_of_jo if type(e).__name__ == "FactRecorded"]
    assert [(f.predicate, f.source_event) for f in facts] == [("phone", f"Memory:{memory_id}:1")]


async def _consumer_config(services: Services, durable: str, replaced: Any = None) -> Any:
    """The consumer's configuration on the server (after creating it as `replaced`, if given)."""
    nc = await nats.connect(services.settings.nats_url)
    try:
        js = nc.jetstream()
        if replaced is not None:
            await js.add_consumer(services.settings.stream, replaced)
        return (await js.consumer_info(services.settings.stream, durable)).config
    finally:
        await nc.close()


def test_the_learners_consumer_is_sent_headers_only_and_learns(services: Services) -> None:
    who, learning, asked = _learning_with_a_model(services)
    spec = learning.work.spec
    # As an earlier version of the worker left it: bodies sent, and every run event too.
    config = learning.work._config()
    runs = h.aggregate_type_filter(services.settings.subject_prefix, "m:Run.IntentSubmitted")
    filters = [*(config.filter_subjects or []), runs]
    earlier = dataclasses.replace(config, headers_only=False, filter_subjects=filters)
    before = asyncio.run(_consumer_config(services, spec.durable, earlier))
    assert not before.headers_only and runs in before.filter_subjects

    loop = asyncio.new_event_loop()
    stopping = asyncio.Event()
    ready = threading.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(learning.work.run(stopping, ready.set),), daemon=True
    )
    thread.start()
    try:
        assert ready.wait(30), "the learner's consumer did not start"
        now = asyncio.run(_consumer_config(services, spec.durable))
        # Run events come through the run consumer (decision 0047): not sent here any more.
        assert now.headers_only and runs not in now.filter_subjects
        assert sorted(now.filter_subjects) == sorted(config.filter_subjects or [])
        noted = services.commands.dispatch(
            NoteMemory(text="Climbed with Jo Park at the quarry"),
            Issued(caller=who, command_id=str(uuid.uuid4())),
        )
        deadline = time.monotonic() + 30
        while learning.work.handled < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # MemoryNoted (the model asked), then the MemoryTaught it caused
    finally:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(30)
    assert learning.work.handled == 2
    memory: Any = services.context.app.repository.get(uuid.UUID(noted.ids["memory_id"]))
    assert memory.learnt_from == [f"Memory:{memory.id}:1"]
    assert len(asked) == 1 and len(memory.taught) == 1  # Jo Park, by the model


def test_a_run_read_from_behind_what_this_process_stored_is_not_learnt_from(
    services: Services,
) -> None:
    """Decision 0047: the learner learns from a run completed where it was picked up with the
    event it was picked up from, so its load must see what this process stored: a read that
    is behind (a replica not yet current, here faked by the index) waits and comes again."""
    who = Caller(uuid.uuid4(), "ada", session_id=str(uuid.uuid4()))
    submitted = services.commands.dispatch(
        SubmitIntent(text="Sarah Lee is my dentist, sarah@smile.example"),
        Issued(caller=who, command_id=str(uuid.uuid4())),
    )
    run_id = uuid.UUID(submitted.ids["run_id"])
    learning = LearningService(services)
    prefix = services.settings.subject_prefix
    item = WorkItem(
        f"{prefix}.{who.tenant_id}.Run.{run_id}",
        {h.TENANT: str(who.tenant_id), h.TOPIC: "domain.runs.run:Run.IntentSubmitted"},
        stream_sequence=1,
        deliveries=1,
    )
    recorder: Any = services.runs.app.recorder
    index = recorder.events.reader.index
    stored = index.last(str(run_id))
    assert stored is not None and recorder.last_known_version(run_id) == stored.version == 1
    index.observe_last(str(run_id), 2, stored.seq + 1)  # as if this process stored version 2

    memory_id = intent_memory_id(who.tenant_id, run_id)
    assert learning.handle(item) == backoff(1)
    assert services.context.app.recorder.select_events(memory_id) == []

    index.forget(str(run_id))
    assert learning.handle(item) is None
    memory: Any = services.context.app.repository.get(memory_id)
    assert memory.kind == "intent" and memory.taught  # the rules' Sarah Lee


def _completed_run(services: Services, tenant: uuid.UUID, to: str) -> Run:
    """A run carried from its intent to its end by a worker of this process, as stored."""
    run = Run(uuid.uuid4(), f"email {to} that I'm late", "ada", None, "api", tenant)
    step = {"step_id": "s1", "action": "email.send", "provider": "google"}
    parameters = {"to": [to], "subject": "Running late", "body": "Sorry"}
    run.propose_plan({"summary": "late", "steps": [{**step, "parameters": parameters}]}, "h", {})
    run.decide("APPROVE", {}, "h")
    run.start_step("s1")
    run.succeed_step("s1", {})
    run.complete()
    context = EventContext(tenant=str(tenant), actor="test", correlation_id=str(run.id))
    services.runs.app.save(run, context=context)
    return run


def _run_item(services: Services, tenant: uuid.UUID, run_id: uuid.UUID, name: str) -> WorkItem:
    prefix = services.settings.subject_prefix
    headers = {h.TENANT: str(tenant), h.TOPIC: f"domain.runs.run:Run.{name}"}
    return WorkItem(f"{prefix}.{tenant}.Run.{run_id}", headers, stream_sequence=1, deliveries=1)


def _learnt_from(services: Services, tenant: uuid.UUID, run: Run) -> list[str]:
    memory: Any = services.context.app.repository.get(intent_memory_id(tenant, run.id))
    return list(memory.learnt_from)


def test_a_run_handed_over_as_stored_is_learnt_from_without_a_load(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0047's follow-up: the worker that carried a run to its end hands it over with
    the event it carried it from; the learner loads nothing. Handed over behind what this
    process stored, or not handed over (a completion saved elsewhere), it loads the run."""
    tenant = uuid.uuid4()
    learning = LearningService(services)
    loads: list[uuid.UUID] = []
    get = services.runs.app.repository.get

    def counted(aggregate_id: uuid.UUID, *args: Any, **kwargs: Any) -> Any:
        loads.append(aggregate_id)
        return get(aggregate_id, *args, **kwargs)

    handed = _completed_run(services, tenant, "sarah@smile.example")
    monkeypatch.setattr(services.runs.app.repository, "get", counted)
    recorder: Any = services.runs.app.recorder
    assert recorder.last_known_version(handed.id) == handed.version

    item = _run_item(services, tenant, handed.id, "IntentSubmitted")
    assert learning.handle(item, handed) is None
    assert loads == []
    assert _learnt_from(services, tenant, handed) == [f"Run:{handed.id}:{handed.version}"]

    # A copy older than what this process stored (a step's save it did not see): loaded.
    older = _completed_run(services, tenant, "tom@example.com")
    stale: Any = get(older.id, version=older.version - 1)
    assert (
        learning.handle(_run_item(services, tenant, older.id, "EscalationApproved"), stale) is None
    )
    assert loads == [older.id]
    assert _learnt_from(services, tenant, older) == [f"Run:{older.id}:{older.version}"]

    # A completion saved by another process (nothing known of it here), handed nothing.
    elsewhere = _completed_run(services, tenant, "kim@example.com")
    recorder.events.reader.index.forget(str(elsewhere.id))
    assert learning.handle(_run_item(services, tenant, elsewhere.id, "RunCompleted")) is None
    assert loads == [older.id, elsewhere.id]
    assert _learnt_from(services, tenant, elsewhere) == [f"Run:{elsewhere.id}:{elsewhere.version}"]
