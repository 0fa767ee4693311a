"""Commands with an Idempotency-Key: the same key and body answer the same, once applied."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from adapters.idempotency import IdempotencyStore, StoredResponse, fingerprint
from commands.base import Caller
from commands.bootstrap import Services

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Unique per request; a retry reuses it."),
]


def run_once(
    request: Request,
    key: str | None,
    body: BaseModel | None,
    caller: Caller,
    services: Services,
    status: int,
    handle: Callable[[str], dict[str, Any]],
) -> JSONResponse:
    """Run `handle(command_id)` once per key; replay its answer for a retry with that key."""
    command_id = IdempotencyStore.check_key(key)
    payload = body.model_dump_json().encode() if body is not None else b""
    print_ = fingerprint(request.method, request.url.path, payload)
    scope = f"{caller.tenant_id}:{caller.user_id}"
    store = services.idempotency
    stored = store.begin(scope, command_id, print_)
    if stored is not None:
        return JSONResponse(
            stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
        )
    try:
        answer = handle(f"{scope}:{command_id}")
    except BaseException:
        store.abandon(scope, command_id)
        raise
    store.complete(scope, command_id, print_, StoredResponse(status, answer))
    return JSONResponse(answer, status_code=status)


def maybe_once(
    request: Request,
    key: str | None,
    body: BaseModel | None,
    caller: Caller,
    services: Services,
    status: int,
    handle: Callable[[str], dict[str, Any]],
) -> JSONResponse:
    """Like `run_once` when the client sent an Idempotency-Key; without one, just run."""
    if key is None:
        return JSONResponse(handle(uuid.uuid4().hex), status_code=status)
    return run_once(request, key, body, caller, services, status, handle)
