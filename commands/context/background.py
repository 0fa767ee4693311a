"""Learning in the background: a worker, never the request, turns new memories, submitted
intents and completed runs into knowledge (docs/context.md).

- A noted memory (`MemoryNoted`, kind note): the person's own model extracts what the rules
  (already run when it was noted) cannot; a person without a model key gets the rules only.
- A submitted intent (`IntentSubmitted`): the rules run on it; one that teaches something
  becomes a memory of kind intent (its facts cite the run's event). Only when the setting
  `model_learns_intents` is on (CAIRN_CONTEXT_MODEL_LEARNS_INTENTS, decision 0040) is the
  person's model asked about it too, as about a note; off, an intent the rules learn
  nothing from costs no call and no write.
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
    def __init__(
        self,
        ports: ContextPorts,
        load_run: Callable[[UUID], Any],
        *,
        load_intent: Callable[[UUID], Any] | None = None,
        model_learns_intents: bool = False,
    ) -> None:
        self.ports = ports
        self._load_run = load_run
        # The run as it was submitted (its first event alone is enough for an intent).
        self._load_intent = load_intent or load_run
        self.model_learns_intents = model_learns_intents

    def on_memory_noted(self, memory_id: UUID) -> int | None:
        memory = find(self.ports.app, memory_id)
        # Synced records are structured: their rules need no model. Intents learn below.
        if not isinstance(memory, Memory) or memory.kind != "note":
            return None
        context = _context(memory.tenant_id, memory.id, f"Memory:{memory.id}:1")
        return extract_with_model(self.ports, memory, context, no_key_is_fine=True)

    def _intent_memory(self, run: Run) -> tuple[Memory | None, int | None]:
        """The run's intent as a memory (noted with the rules on first sight), and the
        position of its events if they were saved now."""
        assert run.tenant_id is not None
        memory_id = intent_memory_id(run.tenant_id, run.id)
        memory = find(self.ports.app, memory_id)
        position = None
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
            position = self.ports.app.save_atomically(
                *aggregates, context=_context(run.tenant_id, memory_id, source)
            )
            memory = aggregates[0]
        if isinstance(memory, Memory) and not memory.forgotten:
            return memory, position
        return None, position

    def on_intent_submitted(self, run_id: UUID) -> int | None:
        return self._learn_intent(self._load_intent(run_id))

    def on_run_advanced(
        self, run_id: UUID, *, submitted: bool, carried: Run | None = None
    ) -> int | None:
        """After a worker took a run's steps from one of its events, from the run as those
        steps left it (`carried`, as stored; else one load): what its intent teaches (when
        that event was its submission), and what the run teaches if it completed there (its
        `RunCompleted` is then not handed over apart)."""
        run = carried if carried is not None and carried.id == run_id else self._load_run(run_id)
        learnt = self._learn_intent(run) if submitted else None
        if isinstance(run, Run) and run.status == RunStatus.COMPLETED:
            completed = self._learn_completed(run)
            learnt = completed if completed is not None else learnt
        return learnt

    def _learn_intent(self, run: Any) -> int | None:
        if not isinstance(run, Run) or run.tenant_id is None or not run.text.strip():
            return None
        source = intent_source(run.id)
        # The rules first: most intents ("remind me to ...") teach nothing by rule and then
        # cost nothing more than this (no look-up of a memory, no vault read, no write).
        taught = extract_by_rules(run.text, source, None).entities
        if not self.model_learns_intents:
            return self._intent_memory(run)[1] if taught else None
        if (
            not taught
            and find(self.ports.app, intent_memory_id(run.tenant_id, run.id)) is None
            and not configured_providers(self.ports.vault, run.tenant_id)
        ):
            return None  # of a person without a model key, such an intent is no memory either
        memory, position = self._intent_memory(run)
        if memory is None:
            return position
        context = _context(run.tenant_id, memory.id, source)
        asked = extract_with_model(
            self.ports, memory, context, text=run.text, source=source, no_key_is_fine=True
        )
        return position if asked is None else asked

    def on_run_completed(self, run_id: UUID) -> int | None:
        return self._learn_completed(self._load_run(run_id))

    def _learn_completed(self, run: Any) -> int | None:
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
        memory, _noted = self._intent_memory(run)
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
