"""A memory: something the person told Cairn to remember ("Sarah Lee is my dentist, ...").

Its text is sealed in the event (crypto-shredded when forgotten) and its plaintext is referred
to by `payload_id` in the forgettable payload store. A correction replaces the text by a new
payload; forgetting is final.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidTransition

MEMORY_KINDS = frozenset({"note", "intent", "synced", "extracted"})


def memory_subject(memory_id: UUID | str) -> str:
    """The vault subject whose key seals this memory and everything derived from it."""
    return f"memory:{memory_id}"


class MemoryForgottenError(InvalidTransition):
    code = "memory_forgotten"


class Memory(Aggregate):
    if TYPE_CHECKING:
        MemoryNoted: ClassVar[type[Aggregate.Event]]
        MemoryCorrected: ClassVar[type[Aggregate.Event]]
        MemoryForgotten: ClassVar[type[Aggregate.Event]]
        MemoryTaught: ClassVar[type[Aggregate.Event]]
        MemoryReembedded: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(memory_id: UUID, **_: object) -> UUID:
        # Chosen by the caller (derived from the command id): a retried note names the same one.
        return memory_id

    @event("MemoryNoted")
    def __init__(
        self,
        memory_id: UUID,
        tenant_id: UUID,
        user_id: str,
        text_sealed: str,
        payload_id: UUID,
        kind: str = "note",
        source_event: str | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.payload_ids = [payload_id]
        self.text_sealed = text_sealed
        # The version of the event the current text came from: what extraction cites.
        self.text_version = 1
        self.kind = kind
        self.forgotten = False
        # Entities first recognised from this memory (forgotten with it), and entities with
        # facts learnt from it (those facts are withdrawn with it).
        self.recognised: list[UUID] = []
        self.taught: list[UUID] = []
        # The source events already learnt from in the background (an extraction by the
        # person's model, a completed run): a redelivered one teaches nothing again.
        self.learnt_from: list[str] = []
        # The (text payload, model) of the last re-embedding, if any (MemoryReembedded).
        self.embedded_with: tuple[UUID, str] | None = None

    def has_learnt(self, source_event: str) -> bool:
        return source_event in self.learnt_from

    def learnt(
        self,
        recognised: list[UUID],
        taught: list[UUID],
        usage: dict[str, Any] | None = None,
        source_event: str | None = None,
    ) -> None:
        """Record which entities this memory taught (by the rules, or by the person's model:
        then with what the model call cost), and from which source event, if it was learnt
        in the background (once per source event)."""
        self._check_kept()
        if source_event is not None and self.has_learnt(source_event):
            return
        new_recognised = [e for e in recognised if e not in self.recognised]
        new_taught = [e for e in taught if e not in self.taught]
        if new_recognised or new_taught or usage is not None or source_event is not None:
            self._taught(new_recognised, new_taught, usage, source_event)

    @event("MemoryTaught")
    def _taught(
        self,
        recognised: list[UUID],
        taught: list[UUID],
        usage: dict[str, Any] | None = None,
        source_event: str | None = None,
    ) -> None:
        self.recognised.extend(recognised)
        self.taught.extend(taught)
        if source_event is not None:
            self.learnt_from.append(source_event)

    def _check_kept(self) -> None:
        if self.forgotten:
            raise MemoryForgottenError("this memory was forgotten", {"memory_id": str(self.id)})

    def correct(self, text_sealed: str, payload_id: UUID, corrected_by: str) -> None:
        self._check_kept()
        self._corrected(text_sealed, payload_id, self.payload_ids[-1], corrected_by)

    @event("MemoryCorrected")
    def _corrected(
        self, text_sealed: str, payload_id: UUID, replaces_payload_id: UUID, corrected_by: str
    ) -> None:
        self.payload_ids.append(payload_id)
        self.text_sealed = text_sealed
        self.text_version = self.version + 1  # this event's (the version moves after it)

    def reembedded(self, payload_id: UUID, model: str, dim: int) -> bool:
        """Its current text's vector was made again by `model` (the payload store holds it);
        False if there is nothing to record (forgotten, an older text, or already so)."""
        if self.forgotten or payload_id != self.payload_ids[-1]:
            return False
        if self.embedded_with == (payload_id, model):
            return False
        self._reembedded(payload_id, model, dim)
        return True

    @event("MemoryReembedded")
    def _reembedded(self, payload_id: UUID, model: str, dim: int) -> None:
        self.embedded_with = (payload_id, model)

    def forget(self, forgotten_by: str) -> bool:
        """Forget it (False if it already was: forgetting twice changes nothing)."""
        if self.forgotten:
            return False
        self._forgotten(forgotten_by, list(self.payload_ids))
        return True

    @event("MemoryForgotten")
    def _forgotten(self, forgotten_by: str, payload_ids: list[UUID]) -> None:
        self.forgotten = True
