"""Intents, runs and escalation approvals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentCaller, ServicesDep
from api.dispatch import Send, build
from api.models import Accepted, Ceremony, Page
from api.params import After, Cursor, Limit
from commands.runs import approvals
from commands.runs.approvals import ApproveEscalation, CancelRun, DenyEscalation
from commands.runs.intents import SubmitIntent
from domain.storable import StorableModel, StorableText
from projections.views.runs import queries as runs_queries

router = APIRouter(prefix="/v1", tags=["runs"])


class ApproveIn(StorableModel):
    ceremony_id: str
    credential: dict[str, Any]


class DenyIn(StorableModel):
    reason: str = Field(default="denied by the person", max_length=500)


class RunAccepted(Accepted):
    run_id: str


@router.post("/intents", operation_id="submitIntent", status_code=202, response_model=RunAccepted)
def post_intent(body: SubmitIntent, send: Send) -> JSONResponse:
    """State an intent. Answers 202 with the run id and the store position at once; a model
    proposes a plan, the policy decides, and the executor acts in `cairn worker` processes.
    Needs an `Idempotency-Key`: the same key and body give the same run, never a second one."""
    return send.accepted(body)


class RunsPage(Page[dict[str, Any]]):
    position: int | None = Field(description="The store position the view had applied.")


def _page(page: Any) -> RunsPage:
    items = [{k: (str(v) if k == "run_id" else v) for k, v in row.items()} for row in page.items]
    return RunsPage(items=items, next_cursor=page.next_cursor, position=page.position)


@router.get("/runs", operation_id="listRuns", response_model=RunsPage)
def list_runs(
    caller: CurrentCaller,
    services: ServicesDep,
    after: After = None,
    status: Annotated[StorableText | None, Query(max_length=20)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RunsPage:
    """The caller's runs, newest first, from the runs view. With `after` (a position from a
    command's answer) it waits until the view has applied it (409 `projection_behind`)."""
    page = runs_queries.list_runs(
        services.pool,
        caller.tenant_id,
        caller.user_id,
        status=status,
        after=after,
        cursor=cursor,
        limit=limit,
    )
    return _page(page)


@router.get("/approvals", operation_id="listApprovals", response_model=RunsPage)
def list_approvals(
    caller: CurrentCaller,
    services: ServicesDep,
    after: After = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RunsPage:
    """The escalation inbox: the caller's runs waiting for their plan-bound approval."""
    page = runs_queries.list_runs(
        services.pool,
        caller.tenant_id,
        caller.user_id,
        status="escalated",
        after=after,
        cursor=cursor,
        limit=limit,
    )
    return _page(page)


class TimelineEntry(BaseModel):
    type: str
    version: int
    at: str


class RunDetail(BaseModel):
    run_id: str
    status: str
    text: str
    channel: str
    plan: dict[str, Any] | None
    plan_hash: str | None
    decision: dict[str, Any] | None
    steps: dict[str, dict[str, Any]]
    failure: str | None
    escalation_expires_at: str | None
    timeline: list[TimelineEntry]
    position: int | None = Field(description="The store position the view had applied.")


@router.get("/runs/{run_id}", operation_id="getRun", response_model=RunDetail)
def get_run(
    run_id: str,
    caller: CurrentCaller,
    services: ServicesDep,
    after: After = None,
) -> dict[str, Any]:
    """One of the caller's runs with its plan, decision, steps and timeline, from the runs
    view. With `after` (a position from a command's answer or a pushed event) it waits until
    the view has applied it (409 `projection_behind`): follow a run by waiting on the SSE
    stream filtered to it (`GET /v1/stream?run_id=`), then read it here once, no polling."""
    return runs_queries.get_run(
        services.pool, caller.tenant_id, caller.user_id, run_id, after=after
    )


@router.post(
    "/runs/{run_id}/cancel", operation_id="cancelRun", status_code=202, response_model=RunAccepted
)
def cancel_run(run_id: str, send: Send) -> JSONResponse:
    """Cancel a run that has not started executing."""
    return send.accepted(build(CancelRun, run_id=run_id))


@router.post(
    "/approvals/{run_id}/approve/begin", operation_id="beginApproval", response_model=Ceremony
)
def begin_approval(run_id: str, caller: CurrentCaller, services: ServicesDep) -> Ceremony:
    """Start approving an escalated run: the passkey challenge is bound to its exact plan."""
    start = approvals.begin_approval(run_id, caller, services.runs.app, services.identity)
    return Ceremony.of(start)


@router.post(
    "/approvals/{run_id}/approve",
    operation_id="approveEscalation",
    status_code=202,
    response_model=RunAccepted,
)
def approve(run_id: str, body: ApproveIn, send: Send) -> JSONResponse:
    """Approve with the passkey assertion; the run then executes that plan, once. Of two
    answers to one escalation only the first is recorded: the other gets 409 `conflict`."""
    return send.accepted(build(ApproveEscalation, run_id=run_id, **body.model_dump()))


@router.post(
    "/approvals/{run_id}/deny",
    operation_id="denyEscalation",
    status_code=202,
    response_model=RunAccepted,
)
def deny(run_id: str, body: DenyIn, send: Send) -> JSONResponse:
    """Deny the escalation: the plan is never executed."""
    return send.accepted(build(DenyEscalation, run_id=run_id, reason=body.reason))
