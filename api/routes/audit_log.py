"""The tamper-evident audit log: signed checkpoints, inclusion and consistency proofs, and a
command's receipt (docs/audit.md). A person sees proofs about their own tenant's events only;
a checkpoint reveals the log's size and root hash, nothing of any event."""

from __future__ import annotations

import base64
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.auth import CurrentCaller
from api.dependencies import AuditLogDep
from api.models import ErrorResponse
from commands.ports.audit_log import Inclusion, StoredCheckpoint
from domain.storable import Position

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_NOT_YET = {"model": ErrorResponse, "description": "No checkpoint covers it yet: ask later"}
_HIDDEN = {"model": ErrorResponse, "description": "Not an event (or command) of your tenant"}


class CheckpointOut(BaseModel):
    position: int = Field(description="Stream position of the checkpoint message.")
    size: int = Field(description="Leaves (stream messages) the checkpoint covers.")
    note: str = Field(description="C2SP tlog-checkpoint signed note, with cosignatures.")

    @classmethod
    def of(cls, checkpoint: StoredCheckpoint) -> CheckpointOut:
        return cls(position=checkpoint.position, size=checkpoint.size, note=checkpoint.note)


class CheckpointsPage(BaseModel):
    checkpoints: list[CheckpointOut]
    next_after: int | None = Field(description="Pass as `after` for the next page.")


class InclusionProof(BaseModel):
    seq: int = Field(description="The event's stream sequence (leaf index + 1).")
    leaf: str = Field(description="base64 leaf hash of the event's envelope.")
    tenant_seq: int = Field(description="The event's rank among its tenant's messages.")
    proof: list[str] = Field(description="base64 RFC 9162 inclusion proof, leaf to root.")
    checkpoint: CheckpointOut

    @classmethod
    def of(cls, inclusion: Inclusion) -> InclusionProof:
        return cls(
            seq=inclusion.seq,
            leaf=base64.b64encode(inclusion.leaf).decode(),
            tenant_seq=inclusion.tenant_seq,
            proof=[base64.b64encode(p).decode() for p in inclusion.proof],
            checkpoint=CheckpointOut.of(inclusion.checkpoint),
        )


class ConsistencyProof(BaseModel):
    old: int
    new: int
    proof: list[str] = Field(description="base64 RFC 9162 consistency proof.")
    checkpoint: CheckpointOut


class Receipt(BaseModel):
    idempotency_key: str
    events: list[InclusionProof]


@router.get("/checkpoints", operation_id="listAuditCheckpoints", response_model=CheckpointsPage)
async def list_checkpoints(
    _caller: CurrentCaller,
    audit_log: AuditLogDep,
    after: Annotated[Position, Query(description="stream position to continue after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointsPage:
    """The log's signed checkpoints in order (every tenant's: each reveals size and root)."""
    found = await audit_log.checkpoints(after, limit)
    return CheckpointsPage(
        checkpoints=[CheckpointOut.of(c) for c in found],
        next_after=found[-1].position if len(found) == limit else None,
    )


@router.get(
    "/proofs/inclusion/{seq}",
    operation_id="getAuditInclusionProof",
    response_model=InclusionProof,
    responses={404: _HIDDEN, 409: _NOT_YET},
)
async def inclusion_proof(
    caller: CurrentCaller,
    audit_log: AuditLogDep,
    seq: Annotated[int, Path(ge=1, le=2**53)],
    size: Annotated[
        int | None, Query(ge=1, le=2**53, description="a checkpoint's size; default: latest")
    ] = None,
) -> InclusionProof:
    """Proof that your tenant's event at `seq` is in a signed checkpoint."""
    return InclusionProof.of(await audit_log.inclusion(str(caller.tenant_id), seq, size))


@router.get(
    "/proofs/consistency",
    operation_id="getAuditConsistencyProof",
    response_model=ConsistencyProof,
    responses={404: {"model": ErrorResponse, "description": "No checkpoint of size `new`"}},
)
async def consistency_proof(
    _caller: CurrentCaller,
    audit_log: AuditLogDep,
    old: Annotated[int, Query(ge=1, le=2**53)],
    new: Annotated[int, Query(ge=1, le=2**53, description="a checkpoint's size")],
) -> ConsistencyProof:
    """Proof that the checkpoint of size `new` extends the log of size `old`."""
    checkpoint, proof = await audit_log.consistency(old, new)
    return ConsistencyProof(
        old=old,
        new=new,
        proof=[base64.b64encode(p).decode() for p in proof],
        checkpoint=CheckpointOut.of(checkpoint),
    )


@router.get(
    "/receipts/{idempotency_key}",
    operation_id="getAuditReceipt",
    response_model=Receipt,
    responses={404: _HIDDEN, 409: _NOT_YET},
)
async def receipt(
    caller: CurrentCaller,
    audit_log: AuditLogDep,
    idempotency_key: Annotated[str, Path(min_length=1, max_length=255)],
    aggregate_id: Annotated[
        UUID | None,
        Query(description="For a command that created something (e.g. an intent's run): its id"),
    ] = None,
) -> Receipt:
    """The receipt of one of your commands (named by the Idempotency-Key you sent it with):
    the inclusion proof of each of its events against the first checkpoint covering them
    all (409 `audit_not_checkpointed` until one does). A command that created one thing (an
    intent creates its run) is found with `aggregate_id`, the id its 202 answer gave."""
    # The command id the pipeline recorded: the key, scoped to its sender (api/idempotency.py).
    command_id = f"{caller.tenant_id}:{caller.user_id}:{idempotency_key.strip()}"
    created = str(aggregate_id) if aggregate_id is not None else None
    events = await audit_log.receipt(str(caller.tenant_id), command_id, created)
    return Receipt(idempotency_key=idempotency_key, events=[InclusionProof.of(e) for e in events])
