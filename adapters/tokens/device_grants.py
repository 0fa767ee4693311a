"""Pending device authorizations in Redis, expiring on their own (RFC 8628 device codes)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import redis

from domain.errors import Unavailable
from domain.identity.device_grant import DeviceGrant, DeviceGrantStatus

POLL_FIELDS = ("last_poll_at", "interval_s")


class DeviceGrantsUnavailable(Unavailable):
    code = "device_grants_unavailable"

    def __init__(self) -> None:
        super().__init__("device sign-in is unavailable right now; retry shortly")


class RedisDeviceGrants:
    """`<prefix>:grant:<code hash>` holds the grant and the person's decision,
    `<prefix>:poll:<code hash>` the device's last poll and interval, `<prefix>:user:<user
    code>` the hash. All are kept a while past the code's expiry, so a late poll is told
    `expired_token` rather than `invalid_grant`."""

    def __init__(self, client: redis.Redis, prefix: str = "cairn:device") -> None:
        self.client = client
        self.prefix = prefix

    def _grant(self, code_hash: str) -> str:
        return f"{self.prefix}:grant:{code_hash}"

    def _poll(self, code_hash: str) -> str:
        return f"{self.prefix}:poll:{code_hash}"

    def _user(self, user_code: str) -> str:
        return f"{self.prefix}:user:{user_code}"

    def create(self, code_hash: str, grant: DeviceGrant, keep_for: timedelta) -> bool:
        ttl_ms = max(1, int(keep_for.total_seconds() * 1000))
        try:
            if not self.client.set(self._user(grant.user_code), code_hash, px=ttl_ms, nx=True):
                return False
            self.client.set(self._grant(code_hash), grant.model_dump_json(), px=ttl_ms)
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc
        return True

    def get(self, code_hash: str) -> DeviceGrant | None:
        try:
            stored: Any
            polled: Any
            stored, polled = self.client.mget([self._grant(code_hash), self._poll(code_hash)])
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc
        if stored is None:
            return None
        grant = DeviceGrant.model_validate_json(stored)
        if polled is not None:
            grant = DeviceGrant.model_validate({**grant.model_dump(), **json.loads(polled)})
        return grant

    def find_by_user_code(self, user_code: str) -> tuple[str, DeviceGrant] | None:
        try:
            code_hash: Any = self.client.get(self._user(user_code))
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc
        if code_hash is None:
            return None
        text = code_hash.decode() if isinstance(code_hash, bytes) else str(code_hash)
        grant = self.get(text)
        return None if grant is None else (text, grant)

    def record_poll(self, code_hash: str, grant: DeviceGrant) -> None:
        poll = grant.model_dump_json(include=set(POLL_FIELDS))
        try:
            ttl_ms = int(self.client.pttl(self._grant(code_hash)))
            if ttl_ms > 0:
                self.client.set(self._poll(code_hash), poll, px=ttl_ms)
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc

    def decide(self, code_hash: str, decided: DeviceGrant) -> bool:
        key = self._grant(code_hash)
        try:
            with self.client.pipeline() as pipe:
                # Optimistic: the write happens only if no one changed the grant since it was
                # read here (the other decision, or the exchange).
                pipe.watch(key)  # type: ignore[no-untyped-call]
                stored: Any = pipe.get(key)
                if stored is None:
                    return False
                current = DeviceGrant.model_validate_json(stored)
                if current.status is not DeviceGrantStatus.PENDING:
                    return False
                pipe.multi()
                pipe.set(key, decided.model_dump_json(exclude=set(POLL_FIELDS)), keepttl=True)
                pipe.execute()
        except redis.WatchError:
            return False
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc
        return True

    def exchange(self, code_hash: str) -> bool:
        try:
            # DEL answers how many keys it removed: of two racing polls, only one gets 1.
            removed = int(self.client.delete(self._grant(code_hash)))
            self.client.delete(self._poll(code_hash))
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc
        return removed == 1
