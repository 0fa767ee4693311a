"""Hashing recovery codes (Argon2id in `adapters/tokens/recovery_codes.py`)."""

from __future__ import annotations

from typing import Protocol


class CodeHasher(Protocol):
    def hash(self, code: str) -> str:
        """A salted, slow hash of `code`, in a self-describing format (parameters included)."""
        ...

    def verify(self, hashed: str, code: str) -> bool:
        """Whether `code` is the one `hashed` was made from (constant time)."""
        ...
