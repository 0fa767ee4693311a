"""Idempotency-Key records: a command's answer kept for a retry with the same key.

Implemented by `adapters/idempotency` on Redis (IETF httpapi idempotency draft semantics).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from commands.ports.ratelimit import RateCount


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What a retry must repeat exactly for the kept answer to be its answer."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class IdempotencyRecords(Protocol):
    def check_key(self, key: str | None) -> str:
        """The key to use (InvalidInput when it is missing, blank or too long)."""
        ...

    def begin(
        self, scope: str, key: str, request_fingerprint: str, count: RateCount | None = None
    ) -> StoredResponse | None:
        """None: go ahead and run it. A StoredResponse: answer with it, run nothing. The same
        key with another request is Unprocessable; while the first still runs, Conflict.
        With `count`, the request is counted against its rate limit first, as
        `count.enforce()` does (RateLimited, and nothing begun, when refused)."""
        ...

    def complete(
        self, scope: str, key: str, request_fingerprint: str, response: StoredResponse
    ) -> None:
        """Keep the answer for retries with the same key. It may still be on its way when this
        returns (a retry sent meanwhile is told the first is in flight); a failure is not
        raised: the command was applied, and the event store's command-id record answers a
        retry once the in-flight record expires."""
        ...

    def abandon(self, scope: str, key: str) -> None:
        """The request failed before it changed anything: let a retry run again."""
        ...
