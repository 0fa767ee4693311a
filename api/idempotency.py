"""Commands with an Idempotency-Key: the same key and body answer the same, once applied.

Every command route goes through `once`. A completed command's answer is kept and replayed
for a retry with the same key, except an answer that hands back a credential (tokens, an
invitation token, a TOTP secret): that is never stored, so a retry after it completed is
answered with 409 `idempotency_answer_not_kept` and the client starts again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse

from commands.ports.idempotency import IdempotencyRecords, StoredResponse, fingerprint
from commands.ports.ratelimit import RateCount
from domain.errors import InvalidInput

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Unique per request; a retry reuses it and is never applied twice.",
    ),
]

NOT_KEPT = StoredResponse(
    409,
    {
        "error": {
            "code": "idempotency_answer_not_kept",
            "message": "a request with this Idempotency-Key was applied; its answer held a "
            "credential, which is never kept: start again",
            "details": {"header": "Idempotency-Key"},
        }
    },
)

Answer = tuple[int, dict[str, Any]]


def once(
    request: Request,
    key: str | None,
    scope: str,
    payload: bytes,
    store: IdempotencyRecords,
    run: Callable[[str | None], Answer],
    *,
    keep_answer: bool = True,
    count: RateCount | None = None,
) -> JSONResponse:
    """Run `run(command_id)` once per key (command id None without a key) and replay its
    answer for a retry with that key. A request that fails keeps nothing: its retry runs.
    `count` (the caller's rate limit) is counted first, whatever the key: with the record's
    begin when there is one (one round trip), else on its own."""
    if key is None:
        if count is not None:
            count.enforce()
        status, body = run(None)
        return JSONResponse(body, status_code=status)
    try:
        command_key = store.check_key(key)
    except InvalidInput:
        if count is not None:
            count.enforce()  # counted before the key is looked at, as any other request
        raise
    request_print = fingerprint(request.method, request.url.path, payload)
    stored = store.begin(scope, command_key, request_print, count)
    if stored is not None:
        return JSONResponse(
            stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
        )
    try:
        status, body = run(f"{scope}:{command_key}")
    except BaseException:
        store.abandon(scope, command_key)
        raise
    kept = StoredResponse(status, body) if keep_answer else NOT_KEPT
    store.complete(scope, command_key, request_print, kept)
    return JSONResponse(body, status_code=status)
