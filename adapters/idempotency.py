"""Idempotency-Key handling on Redis (IETF httpapi idempotency draft semantics).

The first request with a key runs; its response is kept for `ttl` seconds. A retry with the
same key and the same body gets that same response; the same key with another body is 422;
the same key while the first is still running is 409. The event store's durable command-id
record is the real guard against double appends; this store makes the HTTP answer repeatable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json

import redis

from commands.ports.idempotency import StoredResponse
from domain.errors import Conflict, InvalidInput, Unavailable, Unprocessable


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"


class IdempotencyRequestInFlight(Conflict):
    code = "idempotency_request_in_flight"


class IdempotencyStore:
    """Implements `commands.ports.idempotency.IdempotencyRecords`."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "cairn:idem",
        ttl: int = 86_400,
        in_flight_ttl: int = 60,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.in_flight_ttl = in_flight_ttl

    def _key(self, scope: str, key: str) -> str:
        return f"{self.prefix}:{scope}:{hashlib.sha256(key.encode()).hexdigest()}"

    @staticmethod
    def check_key(key: str | None) -> str:
        if key is None or not key.strip():
            raise InvalidInput(
                "this command needs an Idempotency-Key header (any unique string per request)",
                {"header": "Idempotency-Key"},
            )
        if len(key) > 255:
            raise InvalidInput("Idempotency-Key is longer than 255 characters")
        return key.strip()

    def begin(self, scope: str, key: str, request_fingerprint: str) -> StoredResponse | None:
        """None: go ahead and run it. A StoredResponse: answer with it, run nothing."""
        record = json.dumps({"fp": request_fingerprint, "state": "in_flight"})
        try:
            if self.client.set(self._key(scope, key), record, nx=True, ex=self.in_flight_ttl):
                return None
            raw = self.client.get(self._key(scope, key))
        except redis.RedisError as exc:
            raise Unavailable("idempotency store unavailable; retry the request") from exc
        if raw is None:
            return self.begin(scope, key, request_fingerprint)
        stored = json.loads(raw)
        if stored["fp"] != request_fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request body",
                {"header": "Idempotency-Key"},
            )
        if stored["state"] == "in_flight":
            raise IdempotencyRequestInFlight(
                "a request with this Idempotency-Key is still being processed; retry shortly"
            )
        return StoredResponse(int(stored["status"]), stored["body"])

    def complete(
        self, scope: str, key: str, request_fingerprint: str, response: StoredResponse
    ) -> None:
        record = {
            "fp": request_fingerprint,
            "state": "done",
            "status": response.status,
            "body": response.body,
        }
        # On failure the command is still applied; a retry is then deduplicated by the event
        # store's durable command-id record instead.
        with contextlib.suppress(redis.RedisError):
            self.client.set(self._key(scope, key), json.dumps(record), ex=self.ttl)

    def abandon(self, scope: str, key: str) -> None:
        """The request failed before it changed anything: let a retry run again."""
        with contextlib.suppress(redis.RedisError):
            self.client.delete(self._key(scope, key))
