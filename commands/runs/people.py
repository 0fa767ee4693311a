"""The capabilities a decision is made with, without replaying the person on every decision.

A person (the identity `User` aggregate) gains an event on every passkey use and is never
snapshotted, so loading them costs more the longer they use Cairn; a decision needs only their
capabilities. This process keeps, per person, the capabilities and the version they were read
at, and on every use reads the person's last stored event (one request): unless its version is
the one kept, the person changed. Anything newer (a
capability granted or revoked, a passkey used, an erasure) loads the person again, so the next
decision always sees what is stored now (decision 0051). Nothing personal is kept: the
capabilities and the version only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple
from uuid import UUID

from commands.identity.context import IdentityPorts


class _Known(NamedTuple):
    version: int
    capabilities: tuple[str, ...]


class People:
    """Capabilities by (tenant, person), checked against the store on every use."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._known: OrderedDict[tuple[UUID, str], _Known] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def capabilities(
        self, identity: IdentityPorts, user_id: str, tenant_id: UUID
    ) -> tuple[str, ...]:
        """The person's capabilities as stored now (NotFound: no such person in this tenant)."""
        key = (tenant_id, user_id)
        with self._lock:
            known = self._known.get(key)
        if known is not None and not _changed_since(identity, user_id, known.version):
            with self._lock:
                if key in self._known:
                    self._known.move_to_end(key)
            return known.capabilities
        user = identity.get_user(user_id, tenant_id)
        fresh = _Known(user.version, tuple(user.capabilities))
        with self._lock:
            current = self._known.get(key)
            if current is None or current.version <= fresh.version:
                self._known[key] = fresh
                self._known.move_to_end(key)
            if len(self._known) > self._max_entries:
                self._known.popitem(last=False)
        return fresh.capabilities


def _changed_since(identity: IdentityPorts, user_id: str, version: int) -> bool:
    """Whether the person has an event after ``version``: one read of their last event
    (whatever this process remembers of where their events are)."""
    last = identity.app.recorder.select_events(UUID(user_id), desc=True, limit=1)
    return not last or last[0].originator_version != version
