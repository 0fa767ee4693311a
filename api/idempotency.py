"""Commands with an Idempotency-Key: the same key and body answer the same, once applied.

Every command route goes through `once`. A completed command's answer is kept and replayed
for a retry with the same key, except an answer that hands back a credential (tokens, an
invitation token, a TOTP secret): that is never stored, so a retry after it completed is
answered with 409 `idempotency_answer_not_kept` and the client starts again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from commands.ports.idempotency import IdempotencyRecords, StoredResponse, fingerprint
from commands.ports.ratelimit import RateCount
from domain.errors import InvalidInput

IDEMPOTENCY_KEY = "Idempotency-Key"
_DESCRIPTION = "Unique per request; a retry reuses it and is never applied twice."

# The header as the OpenAPI document states it for every route that sends a command
# (api/contract.py). The senders read it themselves (`idempotency_key_of`): as a parameter
# of theirs, FastAPI would find, extract and validate it anew on every command (decision 0063).
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_KEY,
    "in": "header",
    "required": False,
    "description": _DESCRIPTION,
    "schema": {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "title": IDEMPOTENCY_KEY,
        "description": _DESCRIPTION,
    },
}


def idempotency_key_of(request: Request) -> str | None:
    """The request's key as sent (the first one, if sent twice), None without one."""
    return request.headers.get(IDEMPOTENCY_KEY)


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

# Starlette's `JSONResponse.render` calls `json.dumps` with options: a new encoder per answer.
_ANSWER_JSON = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
)


class CommandAnswer(JSONResponse):
    """The same bytes as a `JSONResponse`, from one encoder."""

    def render(self, content: Any) -> bytes:
        return _ANSWER_JSON.encode(content).encode("utf-8")


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
        return CommandAnswer(body, status_code=status)
    try:
        command_key = store.check_key(key)
    except InvalidInput:
        if count is not None:
            count.enforce()  # counted before the key is looked at, as any other request
        raise
    request_print = fingerprint(request.method, path_of(request), payload)
    stored = store.begin(scope, command_key, request_print, count)
    if stored is not None:
        return CommandAnswer(
            stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
        )
    try:
        status, body = run(f"{scope}:{command_key}")
    except BaseException:
        store.abandon(scope, command_key)
        raise
    kept = StoredResponse(status, body) if keep_answer else NOT_KEPT
    store.complete(scope, command_key, request_print, kept)
    return CommandAnswer(body, status_code=status)


# What building a URL changes in a path (Starlette escapes `?`, `#` and `\`; splitting the URL
# drops tabs and line breaks; a path of `//...` without a host is escaped too).
_RESHAPED_IN_A_URL = re.compile(r"[?#\\\t\r\n]|^//")


def path_of(request: Request) -> str:
    """`request.url.path`, which the fingerprints kept in Redis were made of, without building
    the request's URL (~12 µs a command: the host header parsed, the URL joined and split
    again) when that would leave the path as it is."""
    path: str = request.scope["path"]
    if _RESHAPED_IN_A_URL.search(path):
        return request.url.path
    return path
