"""Learning in the background, Given/When/Then with in-memory ports (the library's POPO
store): a note is extracted by the person's model once, with its usage, its facts citing the
note's event; without a key the rules alone (no error, no call); an intent becomes a memory;
a completed run teaches its recipient's address; every redelivery adds nothing."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from pydantic import SecretStr

from commands.context.application import ContextApplication, ContextPorts
from commands.context.background import ContextLearner, intent_memory_id
from commands.context.notes import note
from commands.ports.context import OFFLINE_MODEL, Embedded, Extracted, Payload
from commands.ports.planner import LlmProvider, ProviderCredential, ProviderKeys
from commands.runs.provider_keys import store_provider_key
from domain.context.entity import Entity
from domain.context.extraction import ExtractedEntity, ExtractedFact, Extraction
from domain.context.memory import Memory
from domain.event_context import EventContext
from domain.runs.plan import ModelUsage
from domain.runs.run import Run
from tests.unit.commands.fakes import POPO, MemoryVault

TENANT = uuid.UUID("00000000-0000-0000-0000-00000000000a")
USER = "ada"


class Embedders:
    def __init__(self) -> None:
        self.offline = self

    model = OFFLINE_MODEL

    def model_for(self, tenant_id: UUID) -> str:
        return OFFLINE_MODEL

    def for_tenant(self, tenant_id: UUID) -> Embedders:
        return self

    def passages(self, texts: Sequence[str]) -> list[Embedded]:
        return [Embedded(OFFLINE_MODEL, (1.0, 0.0)) for _ in texts]

    def query(self, text: str) -> Embedded:
        return Embedded(OFFLINE_MODEL, (1.0, 0.0))


class Payloads:
    def __init__(self) -> None:
        self.rows: dict[UUID, Payload] = {}
        self.emails: dict[str, str] = {}

    def put(self, tenant_id: UUID, user_id: str, payloads: Sequence[Payload]) -> None:
        self.rows.update({p.payload_id: p for p in payloads})

    def delete(self, tenant_id: UUID, payload_ids: Sequence[UUID]) -> int:
        return sum(self.rows.pop(p, None) is not None for p in payload_ids)

    def delete_subject(self, tenant_id: UUID, subject: str) -> int:
        return 0

    def memory_ids(self, tenant_id: UUID, user_id: str) -> list[UUID]:
        return []

    def resolve(self, tenant_id: UUID, user_id: str, name: str) -> UUID | None:
        return None

    def names_by_email(
        self, tenant_id: UUID, user_id: str, addresses: Sequence[str]
    ) -> dict[str, str]:
        return {a: self.emails[a] for a in addresses if a in self.emails}


JO = ExtractedEntity(
    name="Jo Park", facts=(ExtractedFact(predicate="phone", value="+44 20 7946 0000"),)
)


class Model:
    """The person's model: names Jo Park with a phone number (or what it is given)."""

    def __init__(self, entity: ExtractedEntity = JO) -> None:
        self.calls: list[str] = []
        self.entity = entity

    def extract(self, text: str, source_event: str, keys: ProviderKeys) -> Extracted:
        self.calls.append(text)
        entity = self.entity
        usage = ModelUsage(
            model="openai/gpt-4o-mini",
            provider="openai",
            prompt_tokens=120,
            completion_tokens=30,
            cost_usd=Decimal("0.0001"),
        )
        return Extracted(Extraction(source_event=source_event, entities=(entity,)), usage)


def _given(with_key: bool = True) -> tuple[ContextPorts, Model, Payloads, ContextApplication]:
    vault = MemoryVault()
    if with_key:
        store_provider_key(vault, TENANT, LlmProvider.OPENAI, ProviderCredential(SecretStr("k")))
    payloads = Payloads()
    model = Model()
    app = ContextApplication(env=POPO)
    ports = ContextPorts(
        app=app,
        vault=vault,
        payloads=payloads,
        embedders=Embedders(),
        directory=payloads,
        search=None,  # type: ignore[arg-type]  # not used in the background
        extractor=model,
        clock=lambda: datetime(2026, 12, 6, tzinfo=UTC),
    )
    return ports, model, payloads, app


def _noted(ports: ContextPorts, text: str) -> UUID:
    memory_id = uuid.uuid4()
    aggregates = note(ports, TENANT, USER, memory_id, text)
    ports.app.save_atomically(*aggregates, context=EventContext(tenant=str(TENANT)))
    return memory_id


def _events(app: ContextApplication, aggregate_id: UUID) -> list[Any]:
    return list(app.events.get(aggregate_id))


def _entity(app: ContextApplication, entity_id: UUID) -> Entity:
    entity: object = app.repository.get(entity_id)
    assert isinstance(entity, Entity)
    return entity


def _jo(app: ContextApplication) -> Entity:
    from commands.context.learning import entity_id_for

    entity: object = app.repository.get(entity_id_for(TENANT, USER, "Jo Park"))
    assert isinstance(entity, Entity)
    return entity


def test_a_note_is_extracted_once_with_usage_and_cites_its_event() -> None:
    ports, model, _, app = _given()
    memory_id = _noted(ports, "Climbed with Jo Park, call her on +44 20 7946 0000")
    learner = ContextLearner(ports, lambda _run: None)

    assert learner.on_memory_noted(memory_id) is not None
    assert learner.on_memory_noted(memory_id) is None  # redelivered: nothing new

    assert len(model.calls) == 1
    taught = [e for e in _events(app, memory_id) if type(e).__name__ == "MemoryTaught"]
    assert taught[-1].usage["prompt_tokens"] == 120
    assert taught[-1].source_event == f"Memory:{memory_id}:1"
    recorded = [e for e in _events(app, _jo(app).id) if type(e).__name__ == "FactRecorded"]
    assert [(e.predicate, e.source_event) for e in recorded] == [("phone", f"Memory:{memory_id}:1")]
    assert recorded[0].source_memory_id == memory_id


def test_without_a_model_key_the_rules_alone_and_no_error() -> None:
    ports, model, _, app = _given(with_key=False)
    memory_id = _noted(ports, "Sarah Lee is my dentist, sarah@smile.example")
    assert ContextLearner(ports, lambda _run: None).on_memory_noted(memory_id) is None
    assert model.calls == []
    memory: Any = app.repository.get(memory_id)
    assert isinstance(memory, Memory) and len(memory.taught) == 1  # the rules' Sarah Lee


def test_a_forgotten_memory_learns_nothing() -> None:
    ports, model, _, app = _given()
    memory_id = _noted(ports, "Climbed with Jo Park")
    memory: Any = app.repository.get(memory_id)
    memory.forget(USER)
    app.save(memory)
    assert ContextLearner(ports, lambda _run: None).on_memory_noted(memory_id) is None
    assert model.calls == []


def _completed_run(text: str, to: str) -> Run:
    run = Run(uuid.uuid4(), text, USER, None, "api", TENANT)
    plan = {
        "summary": "late",
        "steps": [
            {
                "step_id": "s1",
                "action": "email.send",
                "provider": "google",
                "parameters": {"to": [to], "subject": "Running late", "body": "Sorry"},
            }
        ],
    }
    run.propose_plan(plan, "h", {})
    run.decide("APPROVE", {}, "h")
    run.start_step("s1")
    run.succeed_step("s1", {})
    run.complete()
    return run


def test_an_intent_becomes_a_memory_and_its_run_teaches_the_address_once() -> None:
    ports, model, payloads, app = _given(with_key=False)
    run = _completed_run("email Sarah that I'm late", "sarah@smile.example")
    learner = ContextLearner(ports, lambda run_id: run if run_id == run.id else None)

    learner.on_intent_submitted(run.id)
    learner.on_intent_submitted(run.id)
    assert learner.on_run_completed(run.id) is not None
    assert learner.on_run_completed(run.id) is None

    memory: Any = app.repository.get(intent_memory_id(TENANT, run.id))
    assert isinstance(memory, Memory) and memory.kind == "intent"
    assert memory.learnt_from == [f"Run:{run.id}:{run.version}"]
    names = {p.body for p in payloads.rows.values()}
    assert {"email Sarah that I'm late", "Sarah", "sarah@smile.example", "Running late"} <= names
    (sarah,) = [_entity(app, e) for e in memory.taught]
    assert sorted(f.predicate for f in sarah.facts.values()) == ["email", "emailed"]
    assert model.calls == []


def test_a_run_completed_from_one_pick_up_is_learnt_from_with_one_load() -> None:
    """Decision 0047: after the worker carried the run from its intent to its end, one load
    teaches what the intent and the completed run teach; the completion, or the intent handed
    over again, adds nothing."""
    ports, model, _payloads, app = _given(with_key=False)
    run = _completed_run("email Sarah that I'm late", "sarah@smile.example")
    loads: list[uuid.UUID] = []

    def load(run_id: uuid.UUID) -> Run | None:
        loads.append(run_id)
        return run if run_id == run.id else None

    learner = ContextLearner(ports, load, load_intent=lambda _id: pytest.fail("no second load"))
    assert learner.on_run_advanced(run.id, submitted=True) is not None
    assert loads == [run.id]
    assert learner.on_run_advanced(run.id, submitted=True) is None
    assert learner.on_run_completed(run.id) is None

    memory: Any = app.repository.get(intent_memory_id(TENANT, run.id))
    assert isinstance(memory, Memory) and memory.kind == "intent"
    assert memory.learnt_from == [f"Run:{run.id}:{run.version}"]
    (sarah,) = [_entity(app, e) for e in memory.taught]
    assert sorted(f.predicate for f in sarah.facts.values()) == ["email", "emailed"]
    assert model.calls == []


def test_a_run_not_completed_where_it_was_picked_up_teaches_its_intent_only() -> None:
    ports, _model, _payloads, app = _given(with_key=False)
    text = "Sarah Lee is my dentist, sarah@smile.example: book a check-up"
    run = Run(uuid.uuid4(), text, USER, None, "api", TENANT)
    learner = ContextLearner(ports, lambda run_id: run if run_id == run.id else None)
    assert learner.on_run_advanced(run.id, submitted=True) is not None  # the rules' Sarah
    memory: Any = app.repository.get(intent_memory_id(TENANT, run.id))
    assert memory.learnt_from == []  # nothing of a completed run yet
    assert learner.on_run_advanced(run.id, submitted=False) is None


def test_an_intent_teaching_nothing_of_a_person_without_a_key_is_no_memory() -> None:
    ports, model, payloads, _app = _given(with_key=False)
    run = _completed_run("remind me to water the plants", "sarah@smile.example")
    learner = ContextLearner(ports, lambda run_id: run)
    assert learner.on_intent_submitted(run.id) is None
    assert payloads.rows == {}
    assert model.calls == []


def test_an_intent_memory_is_embedded_later_not_on_the_runs_path() -> None:
    ports, model, payloads, app = _given()
    run = _completed_run("remind me to water the plants", "sarah@smile.example")
    learner = ContextLearner(ports, lambda run_id: run, model_learns_intents=True)
    learner.on_intent_submitted(run.id)
    memory: Any = app.repository.get(intent_memory_id(TENANT, run.id))
    text = payloads.rows[memory.payload_ids[-1]]
    assert text.body == "remind me to water the plants" and text.embedding is None
    assert model.calls == ["remind me to water the plants"]  # the person has a key
    taught = [e for e in _events(app, memory.id) if type(e).__name__ == "MemoryTaught"]
    assert taught[-1].usage["prompt_tokens"] == 120


def test_by_default_an_intent_is_not_asked_about_and_teaching_nothing_is_stored_nowhere() -> None:
    ports, model, payloads, app = _given()  # the person has a model key
    run = _completed_run("remind me to water the plants", "sarah@smile.example")
    learner = ContextLearner(ports, lambda run_id: run)

    assert learner.on_intent_submitted(run.id) is None

    assert model.calls == []
    assert payloads.rows == {}
    assert _events(app, intent_memory_id(TENANT, run.id)) == []  # no memory, no usage


def test_by_default_an_intent_the_rules_learn_from_is_a_memory_without_a_model_call() -> None:
    ports, model, _, app = _given()
    text = "Sarah Lee is my dentist, sarah@smile.example: book a check-up"
    run = _completed_run(text, "sarah@smile.example")
    learner = ContextLearner(ports, lambda run_id: run)

    assert learner.on_intent_submitted(run.id) is not None
    assert learner.on_intent_submitted(run.id) is None  # redelivered: nothing new

    memory_id = intent_memory_id(TENANT, run.id)
    events = _events(app, memory_id)
    assert [type(e).__name__ for e in events] == ["MemoryNoted", "MemoryTaught"]  # the rules
    assert events[-1].usage is None  # no model was paid for
    memory: Any = app.repository.get(memory_id)
    (sarah,) = [_entity(app, e) for e in memory.taught]
    assert "email" in {f.predicate for f in sarah.facts.values()}
    assert model.calls == []


def test_an_intent_is_read_as_it_was_submitted() -> None:
    ports, _, _, _app = _given()
    run = _completed_run("Sarah Lee is my dentist, sarah@smile.example", "sarah@smile.example")
    asked: list[UUID] = []

    def submitted(run_id: UUID) -> Run:
        asked.append(run_id)
        return run

    learner = ContextLearner(ports, lambda _run: None, load_intent=submitted)
    assert learner.on_intent_submitted(run.id) is not None
    assert asked == [run.id]


def test_a_fact_both_the_rules_and_the_model_find_is_recorded_once() -> None:
    ports, _, _, app = _given()
    sarah = ExtractedEntity(
        name="Sarah Lee",
        facts=(
            ExtractedFact(predicate="relation", value="dentist"),
            ExtractedFact(predicate="email", value="sarah@smile.example"),
            ExtractedFact(predicate="phone", value="+1 555 0100"),
        ),
    )
    ports = dataclasses.replace(ports, extractor=Model(sarah))
    memory_id = _noted(ports, "Sarah Lee is my dentist, sarah@smile.example, +1 555 0100")
    ContextLearner(ports, lambda _run: None).on_memory_noted(memory_id)
    memory: Any = app.repository.get(memory_id)
    (entity,) = [_entity(app, e) for e in memory.taught]
    assert sorted(f.predicate for f in entity.facts.values()) == ["email", "phone", "relation"]


def test_a_run_handed_over_by_the_worker_that_completed_it_is_learnt_from_without_a_load() -> None:
    """Decision 0047's follow-up: the worker hands over the run as its steps left it; the
    learner then loads nothing, and learns what the one load taught."""
    ports, _model, _payloads, app = _given(with_key=False)
    run = _completed_run("email Sarah that I'm late", "sarah@smile.example")
    learner = ContextLearner(
        ports,
        lambda _id: pytest.fail("no load of a run handed over"),
        load_intent=lambda _id: pytest.fail("no load of its intent either"),
    )
    assert learner.on_run_advanced(run.id, submitted=True, carried=run) is not None
    assert learner.on_run_advanced(run.id, submitted=True, carried=run) is None

    memory: Any = app.repository.get(intent_memory_id(TENANT, run.id))
    assert memory.learnt_from == [f"Run:{run.id}:{run.version}"]
    (sarah,) = [_entity(app, e) for e in memory.taught]
    assert sorted(f.predicate for f in sarah.facts.values()) == ["email", "emailed"]


def test_a_run_handed_over_for_another_id_is_not_taken_for_it() -> None:
    ports, _model, _payloads, _app = _given(with_key=False)
    run = _completed_run("email Sarah that I'm late", "sarah@smile.example")
    other = _completed_run("email Tom that I'm late", "tom@example.com")
    loads: list[uuid.UUID] = []

    def load(run_id: uuid.UUID) -> Run | None:
        loads.append(run_id)
        return run if run_id == run.id else None

    learner = ContextLearner(ports, load)
    assert learner.on_run_advanced(run.id, submitted=True, carried=other) is not None
    assert loads == [run.id]
