"""The OAuth 2.0 device authorization grant (RFC 8628), as a pure state machine.

A device (the `cairn` CLI) asks for a code; the person types the short user code into the
console and approves it with a passkey assertion bound to that code; meanwhile the device
polls, and gets a session once approved. The answers to a poll are RFC 8628's
(`authorization_pending`, `slow_down`, `expired_token`, `access_denied`), as Cairn's error
codes (decision 0018).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.errors import Conflict, DomainError, InvalidInput, NotFound

# RFC 8628 §6.1: 20 consonants (no vowels: no words; no look-alikes), 8 characters: 34 bits,
# enough under the poll rate limit and the code's short life.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
DEVICE_CODE_TTL = timedelta(minutes=10)
POLL_INTERVAL_S = 5
SLOW_DOWN_STEP_S = 5  # RFC 8628 §3.5: each slow_down adds 5 seconds to the interval


class DeviceGrantStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class AuthorizationPending(InvalidInput):
    code = "authorization_pending"


class SlowDown(InvalidInput):
    code = "slow_down"


class ExpiredToken(InvalidInput):
    code = "expired_token"


class AccessDenied(InvalidInput):
    code = "access_denied"


class InvalidGrant(InvalidInput):
    """Unknown device code, or one already exchanged for a session."""

    code = "invalid_grant"


class InvalidUserCode(InvalidInput):
    code = "invalid_user_code"


class UnknownUserCode(NotFound):
    code = "user_code_not_found"


class DeviceCodeDecided(Conflict):
    """The code was approved or denied already (or has expired): the answer comes too late."""

    code = "device_code_decided"


def new_user_code() -> str:
    """`XXXX-XXXX` from the consonant alphabet."""
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def new_device_code() -> str:
    return secrets.token_urlsafe(32)


def device_code_hash(device_code: str) -> str:
    """Only the hash of a device code is kept: the code itself is the device's secret."""
    return hashlib.sha256(device_code.encode()).hexdigest()


def normalize_user_code(text: str) -> str:
    """What the person typed, as the canonical `XXXX-XXXX` (case, spaces and dashes aside)."""
    raw = "".join(ch for ch in text.upper() if ch not in "- ")
    if len(raw) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in raw):
        raise InvalidUserCode(
            f"a user code is {USER_CODE_LENGTH} letters like BCDF-GHJK", {"user_code": text[:20]}
        )
    return f"{raw[:4]}-{raw[4:]}"


def approval_binding(user_code: str) -> bytes:
    """What the approving passkey assertion signs over (its challenge starts with it, like a
    plan approval's, decision 0002): this device code, and nothing else."""
    return hashlib.sha256(b"cairn:device-authorization:" + user_code.encode()).digest()


class DeviceGrant(BaseModel):
    """One device authorization request, from its creation to its one exchange."""

    model_config = ConfigDict(frozen=True)

    user_code: str
    client_name: str
    # What the device asked for (RFC 8628 `scope`); the session gets the delegated default
    # plus what a CLI may have of these (decision 0018), never more.
    scopes: tuple[str, ...] = ()
    created_at: datetime
    expires_at: datetime
    interval_s: int = POLL_INTERVAL_S
    last_poll_at: datetime | None = None
    status: DeviceGrantStatus = DeviceGrantStatus.PENDING
    tenant_id: str | None = None
    user_id: str | None = None
    credential_id: str | None = None

    @classmethod
    def request(cls, client_name: str, now: datetime, scopes: tuple[str, ...] = ()) -> DeviceGrant:
        return cls(
            user_code=new_user_code(),
            client_name=client_name,
            scopes=scopes,
            created_at=now,
            expires_at=now + DEVICE_CODE_TTL,
        )

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def poll(self, now: datetime) -> tuple[DeviceGrant, DomainError | None]:
        """The grant after this poll (to store), and the error to answer, or None: approved,
        exchange it for a session."""
        polled = self.model_copy(update={"last_poll_at": now})
        if self.expired(now):
            return polled, ExpiredToken("the device code has expired: run `cairn login` again")
        if self.status is DeviceGrantStatus.DENIED:
            return polled, AccessDenied("the person denied this device")
        early = self.last_poll_at is not None and (
            now - self.last_poll_at < timedelta(seconds=self.interval_s)
        )
        if early:
            interval = self.interval_s + SLOW_DOWN_STEP_S
            slower = polled.model_copy(update={"interval_s": interval})
            return slower, SlowDown(f"poll at most every {interval} s", {"interval": interval})
        if self.status is DeviceGrantStatus.PENDING:
            return polled, AuthorizationPending(
                "waiting for the person to approve this code", {"interval": self.interval_s}
            )
        return polled, None

    def _check_pending(self, now: datetime) -> None:
        if self.status is not DeviceGrantStatus.PENDING or self.expired(now):
            state = "expired" if self.expired(now) else self.status.value
            raise DeviceCodeDecided(
                f"this code is {state}", {"user_code": self.user_code, "status": state}
            )

    def approve(
        self, tenant_id: str, user_id: str, credential_id: str, now: datetime
    ) -> DeviceGrant:
        self._check_pending(now)
        return self.model_copy(
            update={
                "status": DeviceGrantStatus.APPROVED,
                "tenant_id": tenant_id,
                "user_id": user_id,
                "credential_id": credential_id,
            }
        )

    def deny(self, tenant_id: str, user_id: str, now: datetime) -> DeviceGrant:
        self._check_pending(now)
        return self.model_copy(
            update={"status": DeviceGrantStatus.DENIED, "tenant_id": tenant_id, "user_id": user_id}
        )
