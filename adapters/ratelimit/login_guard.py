"""Brute-force protection for the login routes: growing lockouts per account and per address.

Each failure counts against the account (when known) and the client address. From the
`threshold`-th failure on, that key is locked for `base_lock_s`, doubling with each further
failure up to `max_lock_s`. Failures are forgotten `memory_s` after the last one (and never
before the current lock ends, so lockouts keep growing for a persistent guesser). Success
resets only the account. Always fails closed: with Redis down, nobody can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from adapters.ratelimit.errors import LoginLocked, RateLimiterUnavailable
from adapters.ratelimit.keys import opaque
from commands.ports.ratelimit import FailedLogin

# KEYS[1] failure counter, KEYS[2] lock; ARGV: threshold, base lock ms, max lock ms, memory ms.
# Returns {failures so far, lock set now in ms (0 if none)}.
_RECORD_FAILURE = """
local threshold = tonumber(ARGV[1])
local failures = redis.call('INCR', KEYS[1])
local lock = 0
if failures >= threshold then
  local doublings = math.min(failures - threshold, 40)
  lock = math.min(tonumber(ARGV[2]) * 2 ^ doublings, tonumber(ARGV[3]))
  redis.call('SET', KEYS[2], failures, 'PX', math.floor(lock))
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) + math.floor(lock))
return {failures, math.floor(lock)}
"""


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    threshold: int
    base_lock_s: float
    max_lock_s: float
    memory_s: float

    def __post_init__(self) -> None:
        if self.threshold < 1 or not 0 < self.base_lock_s <= self.max_lock_s:
            raise ValueError("lockout needs threshold >= 1 and 0 < base_lock_s <= max_lock_s")
        if self.memory_s <= 0:
            raise ValueError("lockout memory_s must be positive")

    def as_args(self) -> list[int]:
        ms = [self.base_lock_s, self.max_lock_s, self.memory_s]
        return [self.threshold, *(max(1, round(value * 1000)) for value in ms)]


# An account is a specific target: lock early. An address may be a whole office behind NAT.
DEFAULT_ACCOUNT_POLICY = LockoutPolicy(threshold=5, base_lock_s=30, max_lock_s=900, memory_s=3600)
DEFAULT_ADDRESS_POLICY = LockoutPolicy(threshold=20, base_lock_s=60, max_lock_s=3600, memory_s=3600)


class RedisLoginGuard:
    """Implements `commands.ports.ratelimit.LoginGuard`.

    `account` is whatever names the target of the attempt (user id, or tenant and user
    handle); `address` the client IP. Both enter Redis only hashed.
    """

    def __init__(
        self,
        client: redis.Redis,
        account_policy: LockoutPolicy = DEFAULT_ACCOUNT_POLICY,
        address_policy: LockoutPolicy = DEFAULT_ADDRESS_POLICY,
        prefix: str = "cairn:login",
    ) -> None:
        self.client = client
        self.account_policy = account_policy
        self.address_policy = address_policy
        self.prefix = prefix
        self._record = client.register_script(_RECORD_FAILURE)

    def _keys(self, kind: str, value: str) -> tuple[str, str]:
        base = f"{self.prefix}:{kind}:{opaque(value)}"
        return f"{base}:failures", f"{base}:lock"

    def _subjects(self, account: str | None, address: str) -> list[tuple[str, str]]:
        subjects = [("addr", address)]
        if account is not None:
            subjects.insert(0, ("acct", account))
        return subjects

    def check(self, account: str | None, address: str) -> None:
        locks = [self._keys(kind, value)[1] for kind, value in self._subjects(account, address)]
        try:
            pipeline = self.client.pipeline(transaction=False)
            for lock in locks:
                pipeline.pttl(lock)
            remaining_ms: list[Any] = pipeline.execute()
        except redis.RedisError as exc:
            raise RateLimiterUnavailable() from exc
        longest = max(int(ms) for ms in remaining_ms)
        if longest > 0:
            raise LoginLocked(longest / 1000)

    def record_failure(self, account: str | None, address: str) -> FailedLogin:
        outcomes = {"acct": (0, 0), "addr": (0, 0)}
        try:
            for kind, value in self._subjects(account, address):
                policy = self.account_policy if kind == "acct" else self.address_policy
                result: Any = self._record(
                    keys=list(self._keys(kind, value)), args=policy.as_args()
                )
                outcomes[kind] = (int(result[0]), int(result[1]))
        except redis.RedisError as exc:
            raise RateLimiterUnavailable() from exc
        return FailedLogin(
            account_failures=outcomes["acct"][0],
            address_failures=outcomes["addr"][0],
            account_locked_for=outcomes["acct"][1] / 1000,
            address_locked_for=outcomes["addr"][1] / 1000,
        )

    def record_success(self, account: str) -> None:
        try:
            self.client.delete(*self._keys("acct", account))
        except redis.RedisError as exc:
            raise RateLimiterUnavailable() from exc
