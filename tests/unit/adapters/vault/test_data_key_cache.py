from __future__ import annotations

import pytest

from adapters.vault.cache import DataKeyCache, WrappedDataKey

pytestmark = pytest.mark.unit


def _wrapped(tenant: str, version: int = 1, wrapping: bytes = b"w") -> WrappedDataKey:
    return WrappedDataKey(tenant, version, "v1", wrapping)


def test_least_recently_used_key_is_evicted_first() -> None:
    cache = DataKeyCache(max_entries=2)
    cache.put(_wrapped("a"), b"A")
    cache.put(_wrapped("b"), b"B")
    assert cache.get(_wrapped("a")) == b"A"  # a is now the most recently used
    cache.put(_wrapped("c"), b"C")
    assert cache.get(_wrapped("b")) is None
    assert cache.get(_wrapped("a")) == b"A" and cache.get(_wrapped("c")) == b"C"
    assert len(cache) == 2


def test_a_rewrapped_or_altered_row_is_a_miss() -> None:
    cache = DataKeyCache()
    cache.put(_wrapped("a", wrapping=b"old"), b"A")
    assert cache.get(_wrapped("a", wrapping=b"new")) is None
    assert cache.get(WrappedDataKey("a", 1, "v2", b"old")) is None
    assert cache.get(_wrapped("a", version=2, wrapping=b"old")) is None


def test_size_zero_caches_nothing_and_repr_shows_no_keys() -> None:
    cache = DataKeyCache(max_entries=0)
    cache.put(_wrapped("a"), b"KEYMATERIAL")
    assert cache.get(_wrapped("a")) is None
    full = DataKeyCache(4)
    full.put(_wrapped("a"), b"KEYMATERIAL")
    assert "KEYMATERIAL" not in repr(full) and repr(full) == "DataKeyCache(1 of at most 4 keys)"
    with pytest.raises(ValueError):
        DataKeyCache(-1)
