"""Re-embedding in the background when the embedding model changes (CAIRN_EMBEDDING_MODEL, or
a tenant's key for its provider added or removed): a worker finds the memories whose vector
is not of their tenant's model, in batches, embeds their text again, writes the vectors to
the payload store, then records one `MemoryReembedded` per memory (the view copies the
vector). Until then search compares a query only with rows of its own model and finds the
others by full text and the graph: never two dimensions in one comparison, never an error.

Resumable by construction: what is left is read from the view each time, nothing is kept in
the process. A crash between the vectors and the events leaves rows that look behind: they
are embedded again and recorded then (the memory records nothing twice for one text and
model). One process at a time (the store's `turn`); a tenant whose model does not answer
waits for the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.context.application import ContextPorts, find
from commands.ports.context import ReembedStore
from domain.context.memory import Memory
from domain.errors import Unavailable
from domain.event_context import EventContext

logger = logging.getLogger("cairn.context.reembed")

ACTOR = "cairn-reembed"


@dataclass(frozen=True)
class Progress:
    """One tenant's re-embedding as of a pass: how many memories carry its model."""

    model: str
    memories: int
    current: int

    @property
    def pending(self) -> int:
        return self.memories - self.current


class Reembedder:
    def __init__(
        self,
        ports: ContextPorts,
        store: ReembedStore,
        *,
        batch: int = 32,
        after_vectors: Callable[[int], None] | None = None,
    ) -> None:
        self.ports = ports
        self.store = store
        self.batch = batch
        # Crash tests: called with the batch's number once its vectors are stored, before
        # its events are.
        self._after_vectors = after_vectors or (lambda _n: None)
        self.batches = 0

    def progress(self) -> dict[UUID, Progress]:
        found = {}
        for tenant_id, models in self.store.models().items():
            model = self.ports.embedders.model_for(tenant_id)
            found[tenant_id] = Progress(model, sum(models.values()), models.get(model, 0))
        return found

    def run_pass(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """Re-embed every tenant's rows that are behind; how many memories were recorded."""
        done = 0
        with self.store.turn() as mine:
            if not mine:
                return 0
            for tenant_id, progress in sorted(self.progress().items()):
                if progress.pending and not stopping():
                    done += self._tenant(tenant_id, progress.model, stopping)
        return done

    def _tenant(self, tenant_id: UUID, model: str, stopping: Callable[[], bool]) -> int:
        done, after = 0, None
        while not stopping():
            behind = self.store.behind(tenant_id, model, after, self.batch)
            if not behind:
                break
            after = behind[-1].memory_id
            memories = [find(self.ports.app, b.memory_id) for b in behind]
            todo = [
                (m, b.text)
                for m, b in zip(memories, behind, strict=True)
                if isinstance(m, Memory)
                and not m.forgotten
                # Recorded already, the view not there yet: nothing to embed again.
                and m.embedded_with != (m.payload_ids[-1], model)
            ]
            if not todo:
                continue
            embedder = self.ports.embedders.for_tenant(tenant_id)
            if embedder.model != model:
                break  # the tenant's key changed during the pass: the next pass aims anew
            try:
                vectors = embedder.passages([text for _, text in todo])
            except Unavailable as exc:
                logger.warning("re-embedding of tenant %s waits for %s (%r)", tenant_id, model, exc)
                break
            pairs = [(m.payload_ids[-1], v) for (m, _), v in zip(todo, vectors, strict=True)]
            self.store.store_vectors(tenant_id, pairs)
            self.batches += 1
            self._after_vectors(self.batches)
            changed = [
                m
                for (m, _), v in zip(todo, vectors, strict=True)
                if m.reembedded(m.payload_ids[-1], v.model, v.dim)
            ]
            if not changed:
                continue
            context = EventContext(tenant=str(tenant_id), actor=ACTOR, causation_id=model)
            try:
                self.ports.app.save_atomically(*changed, context=context)
            except IntegrityError:
                continue  # a memory changed meanwhile (corrected, forgotten): next pass
            done += len(changed)
        return done
