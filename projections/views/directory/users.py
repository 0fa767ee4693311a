"""The tenant user directory: capabilities, device and passkey counts, erased flag.

No personal field is projected, not even sealed: names and e-mail addresses stay in the events
(sealed, crypto-shredded on erasure) and are opened only by the account routes.
"""

from __future__ import annotations

from typing import Any

from domain.identity.capabilities import Capability
from domain.identity.user import User
from projections.engine.projector_base import Projector, Writes, handles

_INSERT = (
    "INSERT INTO {directory_users} (tenant_id, user_id, capabilities, device_count,"
    " passkey_count, totp_enabled, erased, registered_at, updated_at, version, position)"
    " VALUES (%s, %s, %s, 0, 0, false, false, %s, %s, %s, %s)"
)
_TAIL = "updated_at = %s, version = %s, position = %s WHERE user_id = %s"
# Sorted by code point like the aggregate does (COLLATE "C"), not by the database's locale.
_GRANT = (
    'capabilities = ARRAY(SELECT DISTINCT c COLLATE "C" FROM'
    " unnest(array_append(capabilities, %s::text)) AS c ORDER BY 1)"
)


class DirectoryUsers(Projector):
    name = "directory_users"
    # 2: recovery-code events move `updated_at`, `version` and `position` like every other.
    version = 2
    tables = ("directory_users",)
    # Counters must be exact: better stopped (and visible in status) than silently wrong.
    on_error = "stop"

    def _update(self, sets: str, event: Any, position: int, writes: Writes, *params: Any) -> None:
        writes.execute(
            # `sets` is one of this module's constants, never input.
            self.sql("UPDATE {directory_users} SET " + (sets and sets + ", ") + _TAIL),  # noqa: S608
            (*params, event.timestamp, event.originator_version, position, event.originator_id),
        )

    @handles(User.UserRegistered)
    def registered(self, event: Any, position: int, writes: Writes) -> None:
        capabilities = sorted({str(Capability.parse(c)) for c in event.capabilities})
        writes.execute(
            self.sql(_INSERT),
            (
                event.tenant_id,
                event.originator_id,
                capabilities,
                event.timestamp,
                event.timestamp,
                event.originator_version,
                position,
            ),
        )

    @handles(User.CapabilityGranted)
    def granted(self, event: Any, position: int, writes: Writes) -> None:
        self._update(_GRANT, event, position, writes, event.capability)

    @handles(User.CapabilityRevoked)
    def revoked(self, event: Any, position: int, writes: Writes) -> None:
        sets = "capabilities = array_remove(capabilities, %s::text)"
        self._update(sets, event, position, writes, event.capability)

    @handles(User.DeviceRegistered)
    def device_registered(self, event: Any, position: int, writes: Writes) -> None:
        self._update("device_count = device_count + 1", event, position, writes)

    @handles(User.DeviceRevoked)
    def device_revoked(self, event: Any, position: int, writes: Writes) -> None:
        self._update("device_count = device_count - 1", event, position, writes)

    @handles(User.PasskeyAdded)
    def passkey_added(self, event: Any, position: int, writes: Writes) -> None:
        self._update("passkey_count = passkey_count + 1", event, position, writes)

    @handles(User.PasskeyRemoved)
    def passkey_removed(self, event: Any, position: int, writes: Writes) -> None:
        self._update("passkey_count = passkey_count - 1", event, position, writes)

    @handles(User.PasskeyUsed)
    def passkey_used(self, event: Any, position: int, writes: Writes) -> None:
        self._update("last_login_at = %s", event, position, writes, event.timestamp)

    @handles(User.TotpEnabled)
    def totp_enabled(self, event: Any, position: int, writes: Writes) -> None:
        self._update("totp_enabled = true", event, position, writes)

    @handles(User.RecoveryCodesGenerated, User.RecoveryCodeUsed)
    def recovery_codes_changed(self, event: Any, position: int, writes: Writes) -> None:
        # Nothing of the codes is projected, but the row must not fall behind its aggregate.
        self._update("", event, position, writes)

    @handles(User.UserErased)
    def erased(self, event: Any, position: int, writes: Writes) -> None:
        # Erasure revokes every device and passkey without one event each (User.erase).
        sets = "erased = true, device_count = 0, passkey_count = 0"
        self._update(sets, event, position, writes)
