"""Query routes of the directory views: the tenant's users and its security events.

Every query takes `?after=<position>` (a command's answer): it waits up to 2 s until the view
has applied that position, else 409 `projection_behind`. Rows come from PostgreSQL under the
application role with the caller's tenant set: row-level security, not only WHERE clauses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import CurrentCaller, ServicesDep
from api.models import ErrorResponse, Page
from api.params import After, Cursor, Limit
from commands.base import Caller
from projections.engine.view_reads import Reader
from projections.views.directory import queries

router = APIRouter(prefix="/v1", tags=["directory"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid_cursor"},
    403: {"model": ErrorResponse, "description": "Not allowed for this caller"},
    409: {"model": ErrorResponse, "description": "projection_behind: `after` not reached"},
    503: {"model": ErrorResponse, "description": "projection_not_built"},
}


class DirectoryUser(BaseModel):
    user_id: str
    capabilities: list[str]
    device_count: int
    passkey_count: int
    totp_enabled: bool
    erased: bool
    registered_at: datetime
    last_login_at: datetime | None
    updated_at: datetime


class UserPage(Page[DirectoryUser]):
    pass


class SecurityEventOut(BaseModel):
    position: int
    event_id: str
    kind: str
    outcome: str
    user_id: str | None
    device_id: str | None
    occurred_at: datetime
    details: dict[str, Any]


class SecurityEventPage(Page[SecurityEventOut]):
    pass


def reader_of(caller: Caller) -> Reader:
    return Reader(caller.tenant_id, caller.user_id, caller.capabilities)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@router.get("/users", operation_id="listUsers", response_model=UserPage, responses=ERRORS)
def list_users(
    caller: CurrentCaller,
    services: ServicesDep,
    after: After = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> UserPage:
    """The tenant's users with capabilities, device and passkey counts, erased flag (needs
    `tenant.admin`). No personal fields: `GET /v1/users/{user_id}` opens those."""
    page = queries.list_users(
        services.pool, reader_of(caller), after=after, cursor=cursor, limit=limit
    )
    items = [DirectoryUser(**{**row, "user_id": str(row["user_id"])}) for row in page.items]
    return UserPage(items=items, next_cursor=page.next_cursor, position=page.position)


@router.get(
    "/security-events",
    operation_id="listSecurityEvents",
    response_model=SecurityEventPage,
    responses=ERRORS,
)
def list_security_events(
    caller: CurrentCaller,
    services: ServicesDep,
    after: After = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    user_id: Annotated[str | None, Query(description="Only this user's (tenant.admin).")] = None,
) -> SecurityEventPage:
    """Security events, newest first: the caller's own, or the whole tenant's (or one user's)
    for a `tenant.admin`."""
    page = queries.list_security_events(
        services.pool, reader_of(caller), user_id=user_id, after=after, cursor=cursor, limit=limit
    )
    items = [
        SecurityEventOut(
            **{
                **row,
                "event_id": str(row["event_id"]),
                "user_id": _text(row["user_id"]),
            }
        )
        for row in page.items
    ]
    return SecurityEventPage(items=items, next_cursor=page.next_cursor, position=page.position)
