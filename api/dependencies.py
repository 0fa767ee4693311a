"""Annotated dependency aliases: routes name what they need, the lifespan decides what it is."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from commands.ports.audit_log import AuditLogReads
from commands.ports.health import ReadinessCheck
from commands.ports.push import Push
from domain.errors import Unavailable


def get_readiness(request: Request) -> ReadinessCheck:
    readiness: ReadinessCheck = request.app.state.readiness
    return readiness


def get_push(connection: HTTPConnection) -> Push:
    push: Push | None = getattr(connection.app.state, "push", None)
    if push is None:
        raise Unavailable("push subscriptions are not running in this process")
    return push


def get_audit_log(connection: HTTPConnection) -> AuditLogReads:
    audit_log: AuditLogReads | None = getattr(connection.app.state, "audit_log", None)
    if audit_log is None:
        raise Unavailable("the audit log is not readable in this process yet")
    return audit_log


ReadinessDep = Annotated[ReadinessCheck, Depends(get_readiness)]
PushDep = Annotated[Push, Depends(get_push)]
AuditLogDep = Annotated[AuditLogReads, Depends(get_audit_log)]
