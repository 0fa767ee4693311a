"""Redis key parts that are unambiguous and reveal nothing.

Tenants, users, accounts (maybe e-mail addresses) and client addresses are personal data and
may contain the separator, so they enter a key only as a hash of the exact tuple.
"""

from __future__ import annotations

import hashlib
import json


def opaque(*parts: str | None) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
