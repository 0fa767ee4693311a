"""The User aggregate: capabilities, passkeys and devices, each change an event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict, InvalidTransition, NotFound
from domain.identity.capabilities import Capability
from domain.identity.recovery import RecoveryCodeReplaced, RecoveryCodeUsed


class User(Aggregate):
    """A person in one tenant. Personal fields are stored sealed (crypto-shredding)."""

    if TYPE_CHECKING:  # made by the @event decorators below, named for type checkers
        UserRegistered: ClassVar[type[Aggregate.Event]]
        CapabilityGranted: ClassVar[type[Aggregate.Event]]
        CapabilityRevoked: ClassVar[type[Aggregate.Event]]
        PasskeyAdded: ClassVar[type[Aggregate.Event]]
        PasskeyRemoved: ClassVar[type[Aggregate.Event]]
        PasskeyUsed: ClassVar[type[Aggregate.Event]]
        DeviceRegistered: ClassVar[type[Aggregate.Event]]
        DeviceRevoked: ClassVar[type[Aggregate.Event]]
        TotpEnabled: ClassVar[type[Aggregate.Event]]
        RecoveryCodesGenerated: ClassVar[type[Aggregate.Event]]
        RecoveryCodeUsed: ClassVar[type[Aggregate.Event]]
        UserErased: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(user_id: UUID, **_: object) -> UUID:
        # Chosen before the aggregate exists: the passkey ceremony binds the credential to it.
        return user_id

    @event("UserRegistered")
    def __init__(
        self,
        user_id: UUID,
        tenant_id: UUID,
        display_name_sealed: str,
        email_sealed: str,
        capabilities: list[str],
    ) -> None:
        self.tenant_id = tenant_id
        self.display_name_sealed = display_name_sealed
        self.email_sealed = email_sealed
        self.capabilities: list[str] = sorted({str(Capability.parse(c)) for c in capabilities})
        self.passkeys: dict[str, dict[str, Any]] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self.totp_secret_ref: str | None = None
        self._recovery_codes: dict[str, Any] | None = None
        self.erased = False

    # Guards

    def check_active(self) -> None:
        if self.erased:
            raise InvalidTransition("this user was erased", {"user_id": str(self.id)})

    def check_passkey(self, credential_id: str) -> None:
        if credential_id not in self.passkeys:
            raise NotFound("no such passkey for this user", {"credential_id": credential_id})

    def check_device(self, device_id: str) -> None:
        device = self.devices.get(device_id)
        if device is None:
            raise NotFound("no such device", {"device_id": device_id})
        if device["revoked"]:
            raise InvalidTransition("this device was revoked", {"device_id": device_id})

    # Capabilities

    def grant(self, capability: str, granted_by: str) -> None:
        self.check_active()
        parsed = str(Capability.parse(capability))
        if parsed not in self.capabilities:
            self._grant(parsed, granted_by)

    @event("CapabilityGranted")
    def _grant(self, capability: str, granted_by: str) -> None:
        self.capabilities = sorted({*self.capabilities, capability})

    def revoke(self, capability: str, revoked_by: str) -> None:
        self.check_active()
        parsed = str(Capability.parse(capability))
        if parsed not in self.capabilities:
            raise NotFound("the user does not hold this capability", {"capability": parsed})
        self._revoke(parsed, revoked_by)

    @event("CapabilityRevoked")
    def _revoke(self, capability: str, revoked_by: str) -> None:
        self.capabilities = [c for c in self.capabilities if c != capability]

    # Passkeys

    def add_passkey(
        self,
        credential_id: str,
        public_key: str,
        sign_count: int,
        aaguid: str,
        backed_up: bool,
        name: str,
    ) -> None:
        self.check_active()
        if credential_id in self.passkeys:
            raise Conflict("this passkey is already registered", {"credential_id": credential_id})
        self._add_passkey(credential_id, public_key, sign_count, aaguid, backed_up, name)

    @event("PasskeyAdded")
    def _add_passkey(
        self,
        credential_id: str,
        public_key: str,
        sign_count: int,
        aaguid: str,
        backed_up: bool,
        name: str,
    ) -> None:
        self.passkeys[credential_id] = {
            "public_key": public_key,
            "sign_count": sign_count,
            "aaguid": aaguid,
            "backed_up": backed_up,
            "name": name,
        }

    def remove_passkey(self, credential_id: str) -> None:
        self.check_active()
        self.check_passkey(credential_id)
        if len(self.passkeys) == 1:
            raise InvalidTransition(
                "the last passkey cannot be removed: add another one first",
                {"credential_id": credential_id},
            )
        self._remove_passkey(credential_id)

    @event("PasskeyRemoved")
    def _remove_passkey(self, credential_id: str) -> None:
        del self.passkeys[credential_id]

    def record_passkey_use(self, credential_id: str, sign_count: int) -> None:
        self.check_active()
        self.check_passkey(credential_id)
        self._record_passkey_use(credential_id, sign_count)

    @event("PasskeyUsed")
    def _record_passkey_use(self, credential_id: str, sign_count: int) -> None:
        self.passkeys[credential_id]["sign_count"] = sign_count

    # Devices

    def register_device(self, device_id: str, name: str) -> None:
        self.check_active()
        if device_id in self.devices:
            raise Conflict("this device is already registered", {"device_id": device_id})
        self._register_device(device_id, name)

    @event("DeviceRegistered")
    def _register_device(self, device_id: str, name: str) -> None:
        self.devices[device_id] = {"name": name, "revoked": False}

    def revoke_device(self, device_id: str, reason: str) -> None:
        self.check_device(device_id)
        self._revoke_device(device_id, reason)

    @event("DeviceRevoked")
    def _revoke_device(self, device_id: str, reason: str) -> None:
        self.devices[device_id]["revoked"] = True

    # Recovery codes (decision 0022): which set is current, which of its codes were used

    @property
    def recovery_codes(self) -> dict[str, Any] | None:
        # Users recorded before recovery codes existed have none (getattr: old snapshots).
        found: dict[str, Any] | None = getattr(self, "_recovery_codes", None)
        return found

    def replace_recovery_codes(self, generation: str, count: int) -> None:
        self.check_active()
        self._replace_recovery_codes(generation, count)

    @event("RecoveryCodesGenerated")
    def _replace_recovery_codes(self, generation: str, count: int) -> None:
        self._recovery_codes = {"generation": generation, "count": count, "used": []}

    def check_recovery_code(self, generation: str, slot: int) -> None:
        current = self.recovery_codes
        if current is None or current["generation"] != generation:
            raise RecoveryCodeReplaced(
                "a newer set of recovery codes replaced this code: use one of the new ones"
            )
        if slot in current["used"]:
            raise RecoveryCodeUsed("this recovery code was used already: each code works once")

    def use_recovery_code(self, generation: str, slot: int) -> None:
        self.check_active()
        self.check_recovery_code(generation, slot)
        self._use_recovery_code(generation, slot)

    @event("RecoveryCodeUsed")
    def _use_recovery_code(self, generation: str, slot: int) -> None:
        assert self._recovery_codes is not None
        self._recovery_codes["used"] = sorted({*self._recovery_codes["used"], slot})

    # Second factor and erasure

    def enable_totp(self, secret_ref: str) -> None:
        self.check_active()
        self._enable_totp(secret_ref)

    @event("TotpEnabled")
    def _enable_totp(self, secret_ref: str) -> None:
        self.totp_secret_ref = secret_ref

    def erase(self, requested_by: str) -> None:
        self.check_active()
        self._erase(requested_by)

    @event("UserErased")
    def _erase(self, requested_by: str) -> None:
        # The events stay; the personal fields in them are unreadable once the vault has
        # destroyed this user's key.
        self.erased = True
        self.passkeys = {}
        for device in self.devices.values():
            device["revoked"] = True
