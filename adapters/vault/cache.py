"""A bounded, thread-safe cache of unwrapped data keys, least recently used evicted first.

Unwrapping is cheap but the key must not be unwrapped on every secret read of a busy tenant,
and it must not grow without bound with the number of tenants. The cache key includes the
wrapped bytes and everything their associated data binds (tenant, data-key version, KEK
version): a hit therefore means "exactly this stored row was already authenticated", so a
re-wrapped, replaced or tampered row is never answered from the cache.

Subject keys (crypto-shredding) are deliberately never cached: erasure in one process must take
effect at once in every other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from commands.ports.vault import Secret


class WrappedDataKey(NamedTuple):
    tenant: str
    version: int
    kek_version: str
    wrapped_key: bytes


class DataKeyCache:
    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be zero (no caching) or more")
        self.max_entries = max_entries
        self._entries: OrderedDict[WrappedDataKey, Secret] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, wrapped: WrappedDataKey) -> bytes | None:
        with self._lock:
            secret = self._entries.get(wrapped)
            if secret is None:
                return None
            self._entries.move_to_end(wrapped)
            return secret.reveal()

    def put(self, wrapped: WrappedDataKey, key: bytes) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            self._entries[wrapped] = Secret(key)
            self._entries.move_to_end(wrapped)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"DataKeyCache({len(self)} of at most {self.max_entries} keys)"
