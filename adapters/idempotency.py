"""Idempotency-Key handling on Redis (IETF httpapi idempotency draft semantics).

The first request with a key runs; its response is kept for `ttl` seconds. A retry with the
same key and the same body gets that same response; the same key with another body is 422;
the same key while the first is still running is 409. The event store's durable command-id
record is the real guard against double appends; this store makes the HTTP answer repeatable.

A signed-in command is counted against its rate limit in the same script as its record's
begin (`count`), and its answer is kept without waiting for Redis's reply (adapters/unanswered.py):
one round trip per command where there were three (decision 0057).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import redis

from adapters.ratelimit.errors import RateLimitExceeded
from adapters.ratelimit.sliding_window import WINDOW_HIT_LUA, RedisRateLimiter
from adapters.unanswered import UnansweredWrites
from commands.ports.idempotency import StoredResponse
from commands.ports.ratelimit import RateCount
from domain.errors import Conflict, InvalidInput, Unavailable, Unprocessable

# KEYS[1] the caller's rate-limit window, KEYS[2] the record; ARGV: the window's limit, window
# (microseconds) and member, the in-flight record, its TTL. The limit first, as on its own: a
# refused request begins nothing. Returns {0, microseconds until a slot frees} when refused,
# {1} when the record was begun, {2, the record} when one was there.
_LIMITED_BEGIN = (
    WINDOW_HIT_LUA
    + """
local hit = window_hit(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
if hit[1] == 0 then
  return {0, hit[3]}
end
if redis.call('SET', KEYS[2], ARGV[4], 'NX', 'EX', tonumber(ARGV[5])) then
  return {1}
end
return {2, redis.call('GET', KEYS[2])}
"""
)


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
        self._limited_begin = client.register_script(_LIMITED_BEGIN)
        self._unanswered = UnansweredWrites(client)

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

    def begin(
        self, scope: str, key: str, request_fingerprint: str, count: RateCount | None = None
    ) -> StoredResponse | None:
        """None: go ahead and run it. A StoredResponse: answer with it, run nothing."""
        limiter = count.limiter if count is not None else None
        if count is None or not (
            isinstance(limiter, RedisRateLimiter) and limiter.client is self.client
        ):
            if count is not None:  # a limiter elsewhere: its own call first
                count.enforce()
            return self._begin(scope, key, request_fingerprint)
        window = limiter.window(count.route_class, count.tenant, count.subject)
        record = json.dumps({"fp": request_fingerprint, "state": "in_flight"})
        try:
            result: Any = self._limited_begin(
                keys=[window.key, self._key(scope, key)],
                args=[*window.args, record, self.in_flight_ttl],
            )
        except redis.RedisError as exc:
            limiter.unreachable(window, exc)  # raises unless the route class fails open
            return self._begin(scope, key, request_fingerprint)
        outcome = int(result[0])
        if outcome == 0:
            raise RateLimitExceeded(window.route_class, int(result[1]) / 1_000_000)
        if outcome == 1:
            return None
        return _replay(result[1], request_fingerprint)

    def _begin(self, scope: str, key: str, request_fingerprint: str) -> StoredResponse | None:
        record = json.dumps({"fp": request_fingerprint, "state": "in_flight"})
        try:
            if self.client.set(self._key(scope, key), record, nx=True, ex=self.in_flight_ttl):
                return None
            raw = self.client.get(self._key(scope, key))
        except redis.RedisError as exc:
            raise Unavailable("idempotency store unavailable; retry the request") from exc
        if raw is None:
            return self._begin(scope, key, request_fingerprint)
        return _replay(raw, request_fingerprint)

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
        # store's durable command-id record instead. Nothing waits for the reply: whatever it
        # says, the answer is the same (decision 0057).
        with contextlib.suppress(redis.RedisError):
            self._unanswered.set(self._key(scope, key), json.dumps(record), ex=self.ttl)

    def abandon(self, scope: str, key: str) -> None:
        """The request failed before it changed anything: let a retry run again."""
        with contextlib.suppress(redis.RedisError):
            self.client.delete(self._key(scope, key))


def _replay(raw: bytes | str, request_fingerprint: str) -> StoredResponse:
    """The answer a request finds in a record that was there before it."""
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
