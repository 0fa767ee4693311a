"""Learning in the background: a worker, never the request, turns new memories, submitted
intents and completed runs into knowledge (docs/context.md).

- A noted memory (`MemoryNoted`, kind note): the person's own model extracts what the rules
  (already run when it was noted) cannot; a person without a model key gets the rules only.
- A submitted intent (`IntentSubmitted`): becomes a memory of kind intent (the rules run on
  it, its facts cite the run's event), then the model extracts from it as from a note.
- A completed run (`RunCompleted`): the deterministic rules of domain/context/runs.py teach,
  through the intent's memory, the addresses written to and the appointments made, citing the
  run's `RunCompleted`.

Everything is once per source event (the memory records what it learnt from), so a
redelivered event adds nothing; a memory that was forgotten learns nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from commands.context.application import ContextPorts, find
from commands.context.extract import extract_with_model
from commands.context.learning import learn
from commands.context.notes import note
from commands.runs.provider_keys import configured_providers
from domain.context.extraction import extract_by_rules
from domain.context.memory import Memory
from domain.context.runs import DoneStep, facts_from_run
from domain.event_context import EventContext
from domain.runs.run import Run, RunStatus

ACTOR = "cairn-context"


def intent_memory_id(tenant_id: UUID, run_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"cairn:intent-memory:{tenant_id}:{run_id}")


def intent_source(run_id: UUID) -> str:
    return f"Run:{run_id}:1"


def _context(tenant_id: UUID, correlation: UUID, cause: str) -> EventContext:
    return EventContext(
        tenant=str(tenant_id), actor=ACTOR, correlation_id=str(correlation), causation_id=cause
    )


class ContextLearner:
    def __init__(self, ports: ContextPorts, load_run: Callable[[UUID], Any]) -> None:
        self.ports = ports
        self._load_run = load_run

    def on_memory_noted(self, memory_id: UUID) -> int | None:
        memory = find(self.ports.app, memory_id)
        # Synced records are structured: their rules need no model. Intents learn below.
        if not isinstance(memory, Memory) or memory.kind != "note":
            return None
        context = _context(memory.tenant_id, memory.id, f"Memory:{memory.id}:1")
        return extract_with_model(self.ports, memory, context, no_key_is_fine=True)

    def _intent_memory(self, run: Run) -> Memory | None:
        """The run's intent as a memory (noted with the rules on first sight)."""
        assert run.tenant_id is not None
        memory_id = intent_memory_id(run.tenant_id, run.id)
        memory = find(self.ports.app, memory_id)
        if memory is None:
            source = intent_source(run.id)
            aggregates = note(
                self.ports,
                run.tenant_id,
                run.user_id,
                memory_id,
                run.text[:4000],
                kind="intent",
                source_event=source,
                # Off the run's path: the re-embedding job gives it a vector in a batch.
                embed=False,
            )
            self.ports.app.save_atomically(
                *aggregates, context=_context(run.tenant_id, memory_id, source)
            )
            memory = aggregates[0]
        return memory if isinstance(memory, Memory) and not memory.forgotten else None

    def on_intent_submitted(self, run_id: UUID) -> int | None:
        run = self._load_run(run_id)
        if not isinstance(run, Run) or run.tenant_id is None or not run.text.strip():
            return None
        source = intent_source(run.id)
        if find(self.ports.app, intent_memory_id(run.tenant_id, run.id)) is None:
            # An intent that teaches nothing by rule, of a person without a model key, is no
            # memory: most intents ("remind me to ...") cost nothing more than this check.
            taught = extract_by_rules(run.text, source, None).entities
            if not taught and not configured_providers(self.ports.vault, run.tenant_id):
                return None
        memory = self._intent_memory(run)
        if memory is None:
            return None
        context = _context(run.tenant_id, memory.id, source)
        return extract_with_model(
            self.ports, memory, context, text=run.text, source=source, no_key_is_fine=True
        )

    def on_run_completed(self, run_id: UUID) -> int | None:
        run = self._load_run(run_id)
        if not isinstance(run, Run) or run.tenant_id is None or run.status != RunStatus.COMPLETED:
            return None
        source = f"Run:{run.id}:{run.version}"
        steps = [
            DoneStep(str(step["action"]), dict(step.get("parameters") or {}))
            for step in (run.plan or {}).get("steps", [])
            if run.steps.get(step["step_id"], {}).get("state") == "succeeded"
        ]
        addresses = [
            a
            for s in steps
            for a in s.parameters.get("to", []) + s.parameters.get("attendees", [])
            if isinstance(a, str)
        ]
        known = self.ports.directory.names_by_email(run.tenant_id, run.user_id, addresses)
        extraction = facts_from_run(run.text, steps, source, known)
        if not extraction.entities:
            return None  # nothing written to anyone: nothing learnt
        memory = self._intent_memory(run)
        if memory is None or memory.has_learnt(source):
            return None
        learnt = learn(
            self.ports, run.tenant_id, run.user_id, memory.id, extraction, run.modified_on
        )
        self.ports.payloads.put(run.tenant_id, run.user_id, learnt.payloads)
        memory.learnt(learnt.recognised, learnt.taught, None, source)
        return self.ports.app.save_atomically(
            memory, *learnt.entities.values(), context=_context(run.tenant_id, memory.id, source)
        )
