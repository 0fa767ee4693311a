"""An entity of a person's world (a person, place, organisation, project) and the facts about
it, bi-temporal (domain/context/timeline.py).

Names and values are sealed in the events; `payload_id` names their plaintext in the payload
store. Each fact cites its source (a memory, an intent, a synced record) so that forgetting
the source withdraws what was learnt from it. Merging ("Sara, not Sarah") is an event on the
merged entity: its names go on resolving, to the entity it was merged into.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.context.timeline import HeldFact, is_single_valued, place
from domain.errors import InvalidInput, InvalidTransition

ENTITY_KINDS = frozenset({"person", "place", "organisation", "project", "thing"})


class Entity(Aggregate):
    if TYPE_CHECKING:
        EntityRecognised: ClassVar[type[Aggregate.Event]]
        FactRecorded: ClassVar[type[Aggregate.Event]]
        FactSuperseded: ClassVar[type[Aggregate.Event]]
        FactsWithdrawn: ClassVar[type[Aggregate.Event]]
        EntityMerged: ClassVar[type[Aggregate.Event]]
        EntityForgotten: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(entity_id: UUID, **_: object) -> UUID:
        return entity_id

    @event("EntityRecognised")
    def __init__(
        self,
        entity_id: UUID,
        tenant_id: UUID,
        user_id: str,
        kind: str,
        name_sealed: str,
        payload_id: UUID,
        source_memory_id: UUID | None = None,
    ) -> None:
        if kind not in ENTITY_KINDS:
            raise InvalidInput(f"unknown entity kind {kind!r}", {"kind": kind})
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.kind = kind
        self.facts: dict[str, HeldFact] = {}
        self.sources: dict[str, str | None] = {}
        self.merged_into: UUID | None = None
        self.forgotten = False

    def _check_not_merged(self) -> None:
        if self.forgotten:
            raise InvalidTransition("this entity was forgotten", {"entity_id": str(self.id)})
        if self.merged_into is not None:
            raise InvalidTransition(
                "this entity was merged into another",
                {"entity_id": str(self.id), "merged_into": str(self.merged_into)},
            )

    def record_fact(
        self,
        fact_id: str,
        predicate: str,
        value_sealed: str,
        payload_id: UUID,
        valid_from: datetime,
        source_memory_id: UUID | None,
        source_event: str | None,
    ) -> None:
        """Record a fact, closing the older ones it contradicts (one `FactSuperseded` each)."""
        self._check_not_merged()
        if fact_id in self.facts:
            return  # the same fact again (a redelivered extraction): nothing new
        placement = place(predicate, valid_from, self.facts.values())
        self._fact_recorded(
            fact_id,
            predicate,
            value_sealed,
            payload_id,
            valid_from,
            placement.valid_to,
            source_memory_id,
            source_event,
        )
        for closure in placement.closes:
            self._fact_superseded(closure.fact_id, fact_id, closure.valid_to, source_event)

    @event("FactRecorded")
    def _fact_recorded(
        self,
        fact_id: str,
        predicate: str,
        value_sealed: str,
        payload_id: UUID,
        valid_from: datetime,
        valid_to: datetime | None,
        source_memory_id: UUID | None,
        source_event: str | None,
    ) -> None:
        self.facts[fact_id] = HeldFact(fact_id, predicate, valid_from, valid_to)
        self.sources[fact_id] = None if source_memory_id is None else str(source_memory_id)

    @event("FactSuperseded")
    def _fact_superseded(
        self, fact_id: str, superseded_by: str, valid_to: datetime, source_event: str | None
    ) -> None:
        held = self.facts[fact_id]
        self.facts[fact_id] = HeldFact(fact_id, held.predicate, held.valid_from, valid_to)

    def withdraw_source(self, memory_id: UUID) -> None:
        """Withdraw every fact learnt from a forgotten memory; what they closed holds again
        until the next fact that remains (`revalidated`: fact id -> its new end, or None)."""
        withdrawn = sorted(f for f, source in self.sources.items() if source == str(memory_id))
        if not withdrawn:
            return
        remaining = [f for f in self.facts.values() if f.fact_id not in withdrawn]
        revalidated: dict[str, datetime | None] = {}
        for fact in remaining:
            valid_to = None
            if is_single_valued(fact.predicate):
                later = [
                    f.valid_from
                    for f in remaining
                    if f.predicate == fact.predicate and f.valid_from > fact.valid_from
                ]
                valid_to = min(later) if later else None
            if valid_to != fact.valid_to:
                revalidated[fact.fact_id] = valid_to
        self._facts_withdrawn(withdrawn, memory_id, revalidated)

    @event("FactsWithdrawn")
    def _facts_withdrawn(
        self, fact_ids: list[str], memory_id: UUID, revalidated: dict[str, datetime | None]
    ) -> None:
        for fact_id in fact_ids:
            self.facts.pop(fact_id, None)
            self.sources.pop(fact_id, None)
        for fact_id, valid_to in revalidated.items():
            held = self.facts[fact_id]
            self.facts[fact_id] = HeldFact(fact_id, held.predicate, held.valid_from, valid_to)

    def merge_into(self, target: UUID, merged_by: str) -> None:
        self._check_not_merged()
        if target == self.id:
            raise InvalidInput("an entity cannot be merged into itself", {"entity_id": str(target)})
        self._merged(target, merged_by)

    @event("EntityMerged")
    def _merged(self, into_entity_id: UUID, merged_by: str) -> None:
        self.merged_into = into_entity_id

    def forget(self, memory_id: UUID) -> None:
        """Forget the entity with the memory it was recognised from (its name was sealed
        under that memory's key)."""
        if not self.forgotten:
            self._forgotten(memory_id)

    @event("EntityForgotten")
    def _forgotten(self, memory_id: UUID) -> None:
        self.forgotten = True
