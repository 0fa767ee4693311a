"""Pending device authorizations in Redis, expiring on their own (RFC 8628 device codes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import redis

from domain.errors import Unavailable
from domain.identity.device_grant import DeviceGrant


class DeviceGrantsUnavailable(Unavailable):
    code = "device_grants_unavailable"

    def __init__(self) -> None:
        super().__init__("device sign-in is unavailable right now; retry shortly")


class RedisDeviceGrants:
    """`<prefix>:grant:<code hash>` holds the grant, `<prefix>:user:<user code>` its hash.
    Both are kept a while past the code's expiry, so a late poll is told `expired_token`
    rather than `invalid_grant`."""

    def __init__(self, client: redis.Redis, prefix: str = "cairn:device") -> None:
        self.client = client
        self.prefix = prefix

    def _grant(self, code_hash: str) -> str:
        return f"{self.prefix}:grant:{code_hash}"

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
            stored: Any = self.client.get(self._grant(code_hash))
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc
        return None if stored is None else DeviceGrant.model_validate_json(stored)

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

    def save(self, code_hash: str, grant: DeviceGrant) -> None:
        try:
            self.client.set(self._grant(code_hash), grant.model_dump_json(), keepttl=True, xx=True)
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc

    def exchange(self, code_hash: str) -> bool:
        try:
            # DEL answers how many keys it removed: of two racing polls, only one gets 1.
            removed = int(self.client.delete(self._grant(code_hash)))
        except redis.RedisError as exc:
            raise DeviceGrantsUnavailable() from exc
        return removed == 1
