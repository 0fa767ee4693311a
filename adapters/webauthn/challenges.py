"""Pending ceremonies on Redis: each stored with a TTL and taken at most once.

A ceremony is written with `SET ... PX ttl NX` under `{prefix}:{kind}:{ceremony_id}` and taken
with `GETDEL`, which reads and deletes in one atomic step: of two concurrent finishes of the
same ceremony exactly one gets the record, so a replayed response always finds nothing. The kind
is part of the key, so a finish of the wrong kind neither matches nor spends another ceremony.
Every Redis error becomes `ChallengeStoreUnavailable` (503): with Redis down nothing is accepted.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import redis
from webauthn.helpers import base64url_to_bytes

from adapters.webauthn.errors import ChallengeStoreUnavailable
from commands.ports.passkeys import b64url


class CeremonyKind(StrEnum):
    REGISTRATION = "registration"
    AUTHENTICATION = "authentication"
    APPROVAL = "approval"


@dataclass(frozen=True, slots=True)
class PendingCeremony:
    """What the relying party must remember between begin and finish."""

    kind: CeremonyKind
    challenge: bytes
    user_id: str | None  # None: a discoverable login, the user is named by the user handle
    allowed_credential_ids: tuple[bytes, ...] = ()  # empty: any credential of the user
    excluded_credential_ids: tuple[bytes, ...] = ()  # registration: the user's existing ones
    plan_hash: bytes | None = None  # approval only

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind.value,
                "challenge": b64url(self.challenge),
                "user_id": self.user_id,
                "allowed": [b64url(cid) for cid in self.allowed_credential_ids],
                "excluded": [b64url(cid) for cid in self.excluded_credential_ids],
                "plan_hash": None if self.plan_hash is None else b64url(self.plan_hash),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> PendingCeremony:
        data = json.loads(text)
        plan_hash = data["plan_hash"]
        return cls(
            kind=CeremonyKind(data["kind"]),
            challenge=base64url_to_bytes(data["challenge"]),
            user_id=data["user_id"],
            allowed_credential_ids=tuple(base64url_to_bytes(cid) for cid in data["allowed"]),
            excluded_credential_ids=tuple(base64url_to_bytes(cid) for cid in data["excluded"]),
            plan_hash=None if plan_hash is None else base64url_to_bytes(plan_hash),
        )


def new_ceremony_id() -> str:
    """256 random bits: unguessable, so a ceremony cannot be finished by someone who did not
    start it (or see its id)."""
    return secrets.token_urlsafe(32)


class ChallengeStore(Protocol):
    def put(self, ceremony_id: str, ceremony: PendingCeremony, ttl_s: float) -> None:
        """Remember the ceremony for `ttl_s` seconds; raise ChallengeStoreUnavailable if not."""
        ...

    def take(self, ceremony_id: str, kind: CeremonyKind) -> PendingCeremony | None:
        """Return and forget the ceremony in one step; None if unknown, expired or taken."""
        ...


class RedisChallengeStore:
    def __init__(self, client: redis.Redis, prefix: str = "cairn:webauthn") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, kind: CeremonyKind, ceremony_id: str) -> str:
        return f"{self.prefix}:{kind.value}:{ceremony_id}"

    def put(self, ceremony_id: str, ceremony: PendingCeremony, ttl_s: float) -> None:
        ttl_ms = max(1, round(ttl_s * 1000))
        try:
            created = self.client.set(
                self._key(ceremony.kind, ceremony_id), ceremony.to_json(), px=ttl_ms, nx=True
            )
        except redis.RedisError as exc:
            raise ChallengeStoreUnavailable() from exc
        if not created:
            # Only a reused ceremony id gets here; 256 random bits make that a caller's bug.
            raise ValueError("ceremony id already in use")

    def take(self, ceremony_id: str, kind: CeremonyKind) -> PendingCeremony | None:
        try:
            stored: Any = self.client.getdel(self._key(kind, ceremony_id))
        except redis.RedisError as exc:
            raise ChallengeStoreUnavailable() from exc
        if stored is None:
            return None
        ceremony = PendingCeremony.from_json(stored)
        # The key already names the kind; the stored copy guards against a key clash.
        return ceremony if ceremony.kind is kind else None
