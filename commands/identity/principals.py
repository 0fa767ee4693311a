"""Who a verified access token speaks for, without a database round trip when nothing changed.

A valid JWT is not enough (docs/sessions.md): its session must be live, its user not erased,
its device not revoked. Checking that reads the session row in PostgreSQL and replays the
user from the event store. Each API process keeps the answer per session for at most
`ttl_s` seconds (decision 0010) and forgets it at once when it learns of a change:

- revocations through this process's session store (logout, device, user, refresh-token
  reuse) and saves of users, tenants and security facts by this process: at once;
- saves by other processes: when this process's push feed delivers the event (`forget_event`);
- anything else (a lost event, a row changed by hand): when the entry expires, `ttl_s` after
  the check it holds (the bound, counted from before the check began).

A check racing with a change is not kept: every entry records the change counters of its
session, user and tenant when its check began, and is stored only if none moved meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from commands.identity.context import IdentityPorts
from commands.ports.sessions import AccessClaims
from domain.errors import NotAuthenticated, NotFound
from domain.identity.credential import SecurityEvent
from domain.identity.user import User

DEFAULT_TTL_S = 5.0
DEFAULT_MAX_ENTRIES = 100_000
_PRUNE_EVERY = 1024  # change counters, in changes
_USER, _SECURITY_EVENT = User.__name__, SecurityEvent.__name__


@dataclass(frozen=True, slots=True)
class Principal:
    """What a live session of a token stands for."""

    tenant_id: UUID
    user_id: str
    capabilities: tuple[str, ...]


Key = tuple[str, str, str, str]  # tenant, session, user, device (all from the signed token)
Counters = tuple[int, int, int]  # changes of the session, the user and the tenant


class Ticket(NamedTuple):
    key: Key
    counters: Counters
    began: float


class _Entry(NamedTuple):
    principal: Principal
    counters: Counters
    expires: float


def key_of(claims: AccessClaims) -> Key:
    return (claims.tenant, claims.session_id, claims.user_id, claims.device_id)


class PrincipalCache:
    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[Key, _Entry] = {}
        # ("session" | "user" | "tenant", id) -> (changes so far, when last changed)
        self._changes: dict[tuple[str, str], tuple[int, float]] = {}
        self._since_prune = 0
        self._lock = threading.Lock()

    def _counters(self, key: Key) -> Counters:
        changes = self._changes
        return (
            changes.get(("session", key[1]), (0, 0.0))[0],
            changes.get(("user", key[2]), (0, 0.0))[0],
            changes.get(("tenant", key[0]), (0, 0.0))[0],
        )

    def lookup(self, claims: AccessClaims) -> Principal | None:
        """The cached answer for this token's session, if it is still good. No lock: reads of
        a dict are atomic, and a stale read only costs a check."""
        key = key_of(claims)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry.expires or entry.counters != self._counters(key):
            return None
        return entry.principal

    def ticket(self, claims: AccessClaims) -> Ticket:
        """Taken before checking: what the check will be stored against."""
        key = key_of(claims)
        with self._lock:
            return Ticket(key, self._counters(key), self.clock())

    def store(self, ticket: Ticket, principal: Principal) -> None:
        """Keep a check's answer, unless something changed since its ticket was taken."""
        if self.ttl_s <= 0:
            return
        expires = ticket.began + self.ttl_s
        with self._lock:
            if self.clock() >= expires or self._counters(ticket.key) != ticket.counters:
                return
            entries = self._entries
            entries.pop(ticket.key, None)
            while len(entries) >= self.max_entries:
                del entries[next(iter(entries))]  # the oldest
            entries[ticket.key] = _Entry(principal, ticket.counters, expires)

    def _changed(self, kind: str, ids: Iterable[str]) -> None:
        with self._lock:
            now = self.clock()
            for one in ids:
                count = self._changes.get((kind, one), (0, 0.0))[0]
                self._changes[(kind, one)] = (count + 1, now)
                self._since_prune += 1
            if self._since_prune >= _PRUNE_EVERY:
                self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget counters older than the TTL: every entry checked before such a change has
        expired by now, so a counter read as 0 again cannot revive one."""
        self._since_prune = 0
        old = now - self.ttl_s - 1.0
        self._changes = {k: v for k, v in self._changes.items() if v[1] >= old}
        self._entries = {k: e for k, e in self._entries.items() if e.expires > now}

    def forget_sessions(self, session_ids: Iterable[str]) -> None:
        self._changed("session", session_ids)

    def forget_user(self, user_id: str) -> None:
        self._changed("user", (user_id,))

    def forget_tenant(self, tenant: str) -> None:
        self._changed("tenant", (tenant,))

    def forget_event(self, tenant: str, aggregate_type: str, aggregate_id: str) -> None:
        """An event was stored (by any process): forget what it may have changed. A user's
        events carry its devices, capabilities and erasure; every revocation of a session
        also records a security fact in its tenant (logout, device, refresh-token reuse)."""
        if aggregate_type == _USER:
            self.forget_user(aggregate_id)
        elif aggregate_type == _SECURITY_EVENT:
            self.forget_tenant(tenant)

    def forget_recorded(self, events: Iterable[Any]) -> None:
        """The same for events this process has just saved (the library's `_notify`)."""
        for event in events:
            aggregate_type = type(event).__qualname__.partition(".")[0]
            tenant = getattr(event, "tenant_id", None)
            self.forget_event(str(tenant), aggregate_type, str(event.originator_id))


def authenticate(claims: AccessClaims, identity: IdentityPorts, cache: PrincipalCache) -> Principal:
    """The token's principal: from the cache, or checked (live session, user, device) and
    then cached. NotAuthenticated if the session ended, or the user or device is gone."""
    found = cache.lookup(claims)
    if found is not None:
        return found
    ticket = cache.ticket(claims)
    identity.sessions.check_session_active(claims)
    try:
        user = identity.get_user(claims.user_id, UUID(claims.tenant))
    except (NotFound, ValueError) as exc:
        raise NotAuthenticated("the account of this token no longer exists") from exc
    device = user.devices.get(claims.device_id)
    if user.erased or device is None or device["revoked"]:
        raise NotAuthenticated("this device or account was revoked; sign in again")
    principal = Principal(user.tenant_id, str(user.id), tuple(user.capabilities))
    cache.store(ticket, principal)
    return principal
