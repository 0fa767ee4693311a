"""Annotated dependency aliases: routes name what they need, the lifespan decides what it is."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

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


ReadinessDep = Annotated[ReadinessCheck, Depends(get_readiness)]
PushDep = Annotated[Push, Depends(get_push)]
