"""The context graph: what Cairn knows about the person. Note, correct and forget memories,
merge entities, search (hybrid), and read an entity with its facts over time."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentCaller, ServicesDep
from api.dispatch import Send, build
from api.models import Accepted, Page
from api.params import After, Cursor, Limit
from commands.context.extract import ExtractMemory
from commands.context.forget import ForgetMemory, MergeEntities
from commands.context.notes import CorrectMemory, NoteMemory
from domain.storable import Position, StorableModel, StorableText, UtcTime
from projections.views.context import queries

router = APIRouter(prefix="/v1/context", tags=["context"])

AsOf = Annotated[UtcTime | None, Query(description="Facts valid at this time (default: now).")]
KnownAsOf = Annotated[
    Position | None,
    Query(description="As Cairn knew it at this store position (default: everything)."),
]


class MemoryAccepted(Accepted):
    memory_id: str


class EntityAccepted(Accepted):
    entity_id: str


class CorrectIn(StorableModel):
    text: str = Field(min_length=1, max_length=4000)


class MergeIn(StorableModel):
    into_entity_id: UUID


@router.post("/memories", operation_id="noteMemory", status_code=202, response_model=MemoryAccepted)
def note_memory(body: NoteMemory, send: Send) -> JSONResponse:
    """Remember this. Its text is sealed in the event and searchable at once (pass `position`
    as `after`); what the rules find in it (people, e-mail addresses, relations, employers)
    becomes entities and facts. Needs an `Idempotency-Key`."""
    return send.accepted(body)


class MemoriesPage(Page[dict[str, Any]]):
    pass


@router.get("/memories", operation_id="listMemories", response_model=MemoriesPage)
def list_memories(
    caller: CurrentCaller,
    services: ServicesDep,
    after: After = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> MemoriesPage:
    """The caller's memories, newest first."""
    page = queries.list_memories(
        services.pool, caller.tenant_id, caller.user_id, after=after, cursor=cursor, limit=limit
    )
    items = [{k: (str(v) if k == "memory_id" else v) for k, v in r.items()} for r in page.items]
    return MemoriesPage(items=items, next_cursor=page.next_cursor, position=page.position)


@router.post(
    "/memories/{memory_id}/correct",
    operation_id="correctMemory",
    status_code=202,
    response_model=MemoryAccepted,
)
def correct_memory(memory_id: UUID, body: CorrectIn, send: Send) -> JSONResponse:
    """Replace a memory's text (the wrong text leaves every view and the payload store)."""
    return send.accepted(build(CorrectMemory, memory_id=memory_id, text=body.text))


@router.post(
    "/memories/{memory_id}/extract",
    operation_id="extractMemory",
    status_code=202,
    response_model=MemoryAccepted,
)
def extract_memory(memory_id: UUID, send: Send) -> JSONResponse:
    """Ask the caller's own model (their key, the planner's routing) what the memory says
    about people, places and organisations; the validated facts cite the memory, and the
    call's usage is recorded. The workers already do this for every new note when the caller
    has a key: once per text, so asking again answers without a position. 503
    `extraction_unavailable` without a key or an answer."""
    return send.accepted(build(ExtractMemory, memory_id=memory_id))


@router.delete(
    "/memories/{memory_id}",
    operation_id="forgetMemory",
    status_code=202,
    response_model=MemoryAccepted,
)
def forget_memory(memory_id: UUID, send: Send) -> JSONResponse:
    """Forget a memory, the facts learnt from it and the entities first named in it: removed
    from every view, their plaintext deleted and their key destroyed (crypto-shredding), so no
    rebuild brings them back. Forgetting twice changes nothing."""
    return send.accepted(build(ForgetMemory, memory_id=memory_id))


@router.post(
    "/entities/{entity_id}/merge",
    operation_id="mergeEntity",
    status_code=202,
    response_model=EntityAccepted,
)
def merge_entity(entity_id: UUID, body: MergeIn, send: Send) -> JSONResponse:
    """This entity is the same as `into_entity_id` ("Sara, not Sarah"): its name and facts
    answer as that entity from now on."""
    return send.accepted(
        build(MergeEntities, entity_id=entity_id, into_entity_id=body.into_entity_id)
    )


class ContextStatus(BaseModel):
    model: str = Field(description="The embedding model the caller's memories should carry")
    memories: int = Field(description="The caller's memories")
    current: int = Field(description="Memories whose vector is of `model`")
    pending: int = Field(description="Memories still to be re-embedded by the workers")
    by_model: dict[str, int] = Field(description="Memories by the model of their vector")
    position: int = Field(description="The store position the counts are as of")


@router.get("/status", operation_id="getContextStatus", response_model=ContextStatus)
def context_status(
    caller: CurrentCaller, services: ServicesDep, after: After = None
) -> ContextStatus:
    """The caller's embedding model (CAIRN_EMBEDDING_MODEL with their key, else the offline
    model) and how far the workers' re-embedding has come: until `pending` is 0, search
    finds the memories still behind by full text and the graph, not by vector."""
    if after is not None:
        queries.wait_for(services.pool, queries.CONTEXT, after)
    model = services.context.embedders.model_for(caller.tenant_id)
    by_model, position = queries.embedding_models(services.pool, caller.tenant_id, caller.user_id)
    total = sum(by_model.values())
    current = by_model.get(model, 0)
    return ContextStatus(
        model=model,
        memories=total,
        current=current,
        pending=total - current,
        by_model=by_model,
        position=position,
    )


class SearchHit(BaseModel):
    kind: str = Field(description="memory or entity")
    id: str
    text: str = Field(description="The memory's text, or the entity's name")
    score: float = Field(description="Reciprocal-rank fusion score")
    matched_by: list[str] = Field(description="full_text, vector, name, graph")


class SearchResults(BaseModel):
    items: list[SearchHit]


@router.get("/search", operation_id="searchContext", response_model=SearchResults)
def search(
    caller: CurrentCaller,
    services: ServicesDep,
    q: Annotated[StorableText, Query(min_length=1, max_length=500)],
    as_of: AsOf = None,
    known_as_of: KnownAsOf = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    after: After = None,
) -> SearchResults:
    """Hybrid search of the caller's own context: full text, vector similarity (an exact scan
    of the caller's rows) and one hop of the graph, fused by reciprocal rank."""
    if after is not None:
        queries.wait_for(services.pool, queries.CONTEXT, after)
    hits = services.context.search.search(
        caller.tenant_id, caller.user_id, q, as_of=as_of, known_as_of=known_as_of, limit=limit
    )
    return SearchResults(
        items=[
            SearchHit(
                kind=h.kind, id=h.id, text=h.text, score=h.score, matched_by=list(h.matched_by)
            )
            for h in hits
        ]
    )


@router.get("/entities/{entity_id}", operation_id="getEntity")
def get_entity(
    entity_id: Annotated[str, Field(max_length=100)],
    caller: CurrentCaller,
    services: ServicesDep,
    as_of: AsOf = None,
    known_as_of: KnownAsOf = None,
    after: After = None,
) -> dict[str, Any]:
    """One entity: its names, its facts valid at `as_of` as known at `known_as_of`, their
    whole history with validity and provenance, and its neighbourhood (the memories they were
    learnt from, the entities those also taught)."""
    return queries.get_entity(
        services.pool,
        caller.tenant_id,
        caller.user_id,
        entity_id,
        as_of=as_of,
        known_as_of=known_as_of,
        after=after,
    )
