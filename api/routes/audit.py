"""Audit replay: ``GET /v1/audit/events``, the caller's tenant's events from the store itself.

Needs the capability ``audit.read`` (or ``tenant.admin``). Filters combine (AND); pages follow
stream positions: pass ``next_after`` of one page as ``after`` of the next. See docs/audit.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import CurrentCaller
from api.dependencies import PushDep
from api.models import ErrorResponse
from commands.ports.push import AuditQuery
from domain.storable import Position, UtcTime

router = APIRouter(prefix="/v1/audit", tags=["audit"])
MAX_LIMIT = 1000


class AuditEventsPage(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="Events in stream order, the same JSON as a push event."
    )
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null when nothing more matches now."
    )
    examined_to: int = Field(description="The last stream position this page examined.")


@router.get(
    "/events",
    operation_id="listAuditEvents",
    response_model=AuditEventsPage,
    responses={
        401: {"model": ErrorResponse, "description": "No valid access token"},
        403: {"model": ErrorResponse, "description": "No audit.read / another tenant"},
        404: {"model": ErrorResponse, "description": "No such aggregate in your tenant"},
    },
)
async def list_audit_events(
    caller: CurrentCaller,
    push: PushDep,
    aggregate_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    aggregate_type: Annotated[str | None, Query(max_length=100)] = None,
    correlation_id: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    event_type: Annotated[
        str | None, Query(max_length=300, description="`Aggregate.Event`, `Event` or a topic")
    ] = None,
    since: Annotated[
        UtcTime | None, Query(description="stored at or after (ISO 8601; no zone: UTC)")
    ] = None,
    until: Annotated[
        UtcTime | None, Query(description="stored before (ISO 8601; no zone: UTC)")
    ] = None,
    after: Annotated[Position, Query(description="stream position to continue after")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    tenant: Annotated[
        str | None, Query(description="optional; must be the caller's own tenant")
    ] = None,
) -> AuditEventsPage:
    """The caller's tenant's events, filtered, in stream order (needs `audit.read`)."""
    own = str(caller.tenant_id)
    query = AuditQuery(
        aggregate_id=aggregate_id,
        aggregate_type=aggregate_type,
        correlation_id=correlation_id,
        actor=actor,
        event_type=event_type,
        since=since,
        until=until,
    )
    page = await push.audit_page(
        own, query, capabilities=caller.capabilities, asked_tenant=tenant, after=after, limit=limit
    )
    return AuditEventsPage(
        events=[event.as_dict() for event in page.events],
        next_after=page.next_after,
        examined_to=page.examined_to,
    )
