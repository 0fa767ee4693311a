"""TOTP (RFC 6238) as a second factor, with replay protection in Redis.

Cairn never stores the secret here: `enrol` hands it to the caller, who seals it in the vault
and passes it back to `verify`. A code is accepted for the current time step and one step
either side (clock drift). Per user, Redis remembers the last accepted step until no code of
it could be valid any more, and only a later step is accepted after it (RFC 6238 section 5.2):
a code, once used, can never be used again, not even on another API process at the same time.
Guessing is bounded by the caller's rate limits (a 6-digit code with a 3-step window gives
3 in a million per attempt).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

import pyotp
import redis

from adapters.ratelimit.keys import opaque
from adapters.totp.errors import TotpInvalid, TotpReplayed, TotpUnavailable
from commands.ports.sessions import TotpEnrolment
from domain.errors import InvalidInput

# KEYS[1] last accepted step; ARGV: this step, ms to remember it. 1 accepted, 0 replayed.
_ACCEPT_STEP = """
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
local step = tonumber(ARGV[1])
if step <= last then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
"""

SECRET_LENGTH = 32  # base32 characters: 160 bits, the RFC 4226 recommendation


def matching_step(totp: pyotp.TOTP, code: str, now: float, valid_window: int) -> int | None:
    """The time step within the window whose code `code` is, or None. No replay check."""
    code = code.replace(" ", "")
    if len(code) != totp.digits or not code.isascii() or not code.isdigit():
        return None
    current = totp.timecode(now)
    matched = None
    # Every candidate is compared, in constant time, so timing tells nothing about which.
    for step in range(current - valid_window, current + valid_window + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and matched is None:
            matched = step
    return matched


class RedisTotp:
    """Implements `commands.ports.sessions.SecondFactor`."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        issuer: str = "Cairn",
        digits: int = 6,
        interval_s: int = 30,
        valid_window: int = 1,
        prefix: str = "cairn:totp",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.digits = digits
        self.interval_s = interval_s
        self.valid_window = valid_window
        self.prefix = prefix
        self.clock = clock
        self._accept_step = client.register_script(_ACCEPT_STEP)

    def _totp(self, secret: str) -> pyotp.TOTP:
        return pyotp.TOTP(secret, digits=self.digits, interval=self.interval_s)

    def enrol(self, account_name: str) -> TotpEnrolment:
        if not account_name.strip():
            raise InvalidInput("a TOTP enrolment needs an account name for the person's app")
        secret = pyotp.random_base32(SECRET_LENGTH)
        uri = self._totp(secret).provisioning_uri(name=account_name, issuer_name=self.issuer)
        return TotpEnrolment(secret=secret, provisioning_uri=uri)

    def matching_step(self, secret: str, code: str) -> int | None:
        return matching_step(self._totp(secret), code, self.clock(), self.valid_window)

    def verify(self, tenant: str, user_id: str, secret: str, code: str) -> None:
        step = self.matching_step(secret, code)
        if step is None:
            raise TotpInvalid("the one-time code is not valid")
        # A step's code stays acceptable until `valid_window` steps after it have passed.
        remember_ms = (2 * self.valid_window + 2) * self.interval_s * 1000
        key = f"{self.prefix}:{opaque(tenant, user_id)}:last_step"
        try:
            accepted: Any = self._accept_step(keys=[key], args=[step, remember_ms])
        except redis.RedisError as exc:
            raise TotpUnavailable("one-time codes cannot be checked now; retry shortly") from exc
        if int(accepted) != 1:
            raise TotpReplayed("this one-time code was already used; wait for the next one")
