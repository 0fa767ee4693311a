"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.dependencies import ReadinessDep
from api.errors import error_response
from api.models import ErrorResponse

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    ok: bool
    error: str | None = None
    latency_ms: float | None = None


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, Check]


@router.get("/healthz", operation_id="healthz", response_model=Liveness)
async def healthz() -> Liveness:
    """Liveness: the API process answers. Says nothing about the servers behind it."""
    return Liveness()


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Readiness,
    responses={503: {"model": ErrorResponse, "description": "A server Cairn needs is down"}},
)
async def readyz(request: Request, readiness: ReadinessDep) -> Readiness | JSONResponse:
    """Readiness: NATS JetStream, PostgreSQL and Redis each answer within a few seconds.

    With any of them down the answer is 503, `error.details.down` names which, and
    `error.details.checks` holds each server's result.
    """
    results = await readiness()
    checks = {r.name: Check(ok=r.ok, error=r.error, latency_ms=r.latency_ms) for r in results}
    down = sorted(name for name, check in checks.items() if not check.ok)
    if down:
        return error_response(
            request,
            503,
            "not_ready",
            f"not ready: {', '.join(down)} down",
            {"down": down, "checks": {k: v.model_dump() for k, v in checks.items()}},
        )
    return Readiness(checks=checks)
