"""Connects in progress, in Redis under a hash of their `state`: taken once (GETDEL), gone
after ten minutes. The key is a hash so that Redis never holds a usable `state`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import redis

from domain.errors import Unavailable
from domain.integrations.grants import PendingAuthorization

TTL_S = 600


class RedisAuthorizationStates:
    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int = TTL_S) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, state: str) -> str:
        return f"{self.prefix}:{hashlib.sha256(state.encode()).hexdigest()}"

    def put(self, state: str, pending: PendingAuthorization) -> None:
        try:
            self.client.set(self._key(state), json.dumps(asdict(pending)), ex=self.ttl_s, nx=True)
        except redis.RedisError as exc:
            raise Unavailable("cannot start a connect now; retry shortly") from exc

    def take(self, state: str) -> PendingAuthorization | None:
        try:
            raw = self.client.getdel(self._key(state))
        except redis.RedisError as exc:
            raise Unavailable("cannot finish a connect now; retry shortly") from exc
        if raw is None:
            return None
        values = json.loads(raw)
        values["scopes"] = tuple(values["scopes"])
        return PendingAuthorization(**values)
