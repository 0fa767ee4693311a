"""Where pending device authorizations (RFC 8628) wait: short-lived, found by the hash of
their device code (the device's poll) or by their user code (the person's approval).

The device's polls and the person's decision are written separately, so a poll that read the
grant just before the approval cannot write "pending" back over it.
"""

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

    def record_poll(self, code_hash: str, grant: DeviceGrant) -> None:
        """Keep the grant's poll time and interval (nothing else of it)."""
        ...

    def decide(self, code_hash: str, decided: DeviceGrant) -> bool:
        """Store the person's decision if the grant is still pending; False if another
        decision came first."""
        ...

    def exchange(self, code_hash: str) -> bool:
        """Remove the grant for its one exchange: True only for the first caller."""
        ...
