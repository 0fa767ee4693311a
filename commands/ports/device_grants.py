"""Where pending device authorizations (RFC 8628) wait: short-lived, found by the hash of
their device code (the device's poll) or by their user code (the person's approval)."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from domain.identity.device_grant import DeviceGrant


class DeviceGrants(Protocol):
    def create(self, code_hash: str, grant: DeviceGrant, keep_for: timedelta) -> bool:
        """Store a new grant; False if its user code is taken (draw another)."""
        ...

    def get(self, code_hash: str) -> DeviceGrant | None: ...

    def find_by_user_code(self, user_code: str) -> tuple[str, DeviceGrant] | None:
        """The device code's hash and the grant a person's code names."""
        ...

    def save(self, code_hash: str, grant: DeviceGrant) -> None:
        """Replace the grant (its expiry unchanged)."""
        ...

    def exchange(self, code_hash: str) -> bool:
        """Remove the grant for its one exchange: True only for the first caller."""
        ...
