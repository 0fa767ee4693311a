"""Account recovery with single-use codes (decision 0022).

A person makes a set of ten codes while signed in (a change approved with a passkey bound to
it, as widening changes are: decision 0015) and keeps them somewhere safe; they are shown once.
Having lost every passkey, the person types one code, makes a new passkey on the device in
hand, and is signed in: the code is then used up. Every use, good or bad, is a security event,
and wrong codes count as failed logins (growing lockouts per account and per address).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from pydantic import ConfigDict, Field, SecretStr

from commands.base import Command, CommandResult, Issued
from commands.identity.bound_changes import ChangeApproval, approved, change_hash, record_change
from commands.identity.context import IdentityPorts
from commands.identity.enrolment import session_opened
from commands.identity.models import DeviceName
from commands.ports.passkeys import CeremonyStart, b64url
from commands.ports.recovery import CodeHasher
from domain.errors import NotAuthenticated, Unavailable
from domain.identity.credential import PasskeyCredential
from domain.identity.recovery import (
    CODES_PER_SET,
    RecoveryCodeIndex,
    RecoveryCodeInvalid,
    lookup_of,
    new_code,
    normalized,
    shown,
)
from domain.identity.user import User
from domain.storable import StorableModel

if TYPE_CHECKING:
    from commands.dispatch import Ports

RECORD_PREFIX = "recovery-codes:"
RecoveryCode = Field(min_length=1, max_length=64)


class RegenerateRecoveryCodes(Command):
    """Replace the caller's recovery codes with ten new ones (the old ones stop working).
    `approval`: a passkey assertion bound to exactly this change (403 `step_up_required`
    without it says what to sign)."""

    approval: ChangeApproval | None = None


class BeginRecovery(StorableModel):
    """Starting the passkey ceremony records nothing: not a command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: SecretStr = RecoveryCode


class FinishRecovery(Command):
    code: SecretStr = RecoveryCode
    ceremony_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]
    device_name: str = DeviceName


def _hasher(ports: IdentityPorts) -> CodeHasher:
    if ports.recovery_codes is None:
        raise Unavailable("recovery codes are not configured on this server")
    return ports.recovery_codes


def _record_id(user_id: UUID, generation: str) -> str:
    return f"{RECORD_PREFIX}{user_id}:{generation}"


def forget_recovery_codes(user: User, ports: IdentityPorts) -> None:
    """Delete the hashes of the user's current set (on erasure: the codes die with them)."""
    current = user.recovery_codes
    if current is not None:
        ports.vault.delete_secret(str(user.tenant_id), _record_id(user.id, current["generation"]))


def regenerate_recovery_codes(
    command: RegenerateRecoveryCodes, issued: Issued, ports: Ports
) -> CommandResult:
    caller = issued.signed_in()
    identity = ports.identity
    user = identity.get_user(caller.user_id, caller.tenant_id)
    user.check_active()
    before = user.recovery_codes
    base = str(before["generation"]) if before else None
    digest = change_hash("recovery_codes", caller.tenant_id, caller.user_id, base, "new set")
    approved(issued, ports, "recovery_codes_change", digest, command.approval, required=True)
    hasher = _hasher(identity)
    codes = [new_code() for _ in range(CODES_PER_SET)]
    generation = uuid4().hex
    tenant = str(user.tenant_id)
    hashes = [hasher.hash(code) for code in codes]
    # A record per set: a save that loses a race leaves an unused record, never a current set
    # whose hashes were overwritten.
    identity.vault.put_secret(tenant, _record_id(user.id, generation), json.dumps(hashes).encode())
    user.replace_recovery_codes(generation, len(codes))
    indexes = [
        RecoveryCodeIndex(lookup_of(code), user.tenant_id, user.id, generation, slot)
        for slot, code in enumerate(codes)
    ]
    position = identity.app.save_atomically(user, *indexes, context=issued.event_context())
    if base is not None:
        identity.vault.delete_secret(tenant, _record_id(user.id, base))
    record_change(
        issued,
        ports,
        "recovery_codes_generated",
        {"count": len(codes), "change_hash": digest.hex()},
    )
    return CommandResult(
        {"user_id": str(user.id)},
        position,
        credentials={"codes": " ".join(shown(code) for code in codes)},
    )


def recovery_status(user_id: str, tenant_id: UUID, ports: IdentityPorts) -> dict[str, int]:
    current = ports.get_user(user_id, tenant_id).recovery_codes
    if current is None:
        return {"count": 0, "remaining": 0}
    return {"count": current["count"], "remaining": current["count"] - len(current["used"])}


def _refused(
    ports: IdentityPorts, address: str, user: User | None, exc: NotAuthenticated
) -> NotAuthenticated:
    """Count a wrong code as a failed login and tell its owner (when known) about it."""
    ports.login_guard.record_failure(str(user.id) if user else None, address)
    ports.record_security_event(
        "recovery_code_used",
        "refused",
        tenant_id=user.tenant_id if user else None,
        user_id=user.id if user else None,
        details={"code": exc.code},
    )
    return exc


def _redeemable(code: str, ports: IdentityPorts, address: str) -> tuple[User, RecoveryCodeIndex]:
    """The code's owner and the code's place in their current set, or an error naming why
    not. Checked in full (Argon2id over the whole code) before anything is said about it."""
    ports.login_guard.check(None, address)
    invalid = RecoveryCodeInvalid("this recovery code is not valid: check it and try again")
    plain = normalized(code)
    found = ports.find(RecoveryCodeIndex.create_id(lookup_of(plain))) if plain else None
    if plain is None or not isinstance(found, RecoveryCodeIndex):
        raise _refused(ports, address, None, invalid)
    user = ports.get_user(found.user_id, found.tenant_id)
    ports.login_guard.check(str(user.id), address)
    current = user.recovery_codes
    try:
        if user.erased:
            raise invalid
        if current is not None and current["generation"] == found.generation:
            record = ports.vault.get_secret(
                str(user.tenant_id), _record_id(user.id, found.generation)
            )
            if not _hasher(ports).verify(json.loads(record)[found.slot], plain):
                raise invalid
        user.check_recovery_code(found.generation, found.slot)
    except NotAuthenticated as exc:
        raise _refused(ports, address, user, exc) from None
    return user, found


def begin_recovery(command: BeginRecovery, ports: IdentityPorts, address: str) -> CeremonyStart:
    """Check the code, then start registering a new passkey for its owner (records nothing;
    the code is used only when the new passkey is added)."""
    user, _ = _redeemable(command.code.get_secret_value(), ports, address)
    tenant = str(user.tenant_id)
    email = ports.vault.open_personal(tenant, user.email_sealed, "email")
    name = ports.vault.open_personal(tenant, user.display_name_sealed, "display_name")
    return ports.passkeys.begin_registration(str(user.id), str(email), str(name), [])


def finish_recovery(command: FinishRecovery, issued: Issued, all_ports: Ports) -> CommandResult:
    """Use the code up, add the new passkey and a device, sign in: one atomic save, so of two
    uses of one code racing, the store lets one through."""
    ports, address = all_ports.identity, issued.address
    user, found = _redeemable(command.code.get_secret_value(), ports, address)
    registered = ports.passkeys.finish_registration(
        command.ceremony_id,
        command.credential,
        lambda raw: ports.find_credential(b64url(raw)) is not None,
    )
    if registered.user_id != str(user.id):
        raise NotAuthenticated("this passkey ceremony was started for another recovery code")
    user.use_recovery_code(found.generation, found.slot)
    user.add_passkey(
        registered.credential_id_b64,
        b64url(registered.public_key),
        registered.sign_count,
        registered.aaguid,
        registered.backed_up,
        "recovered passkey",
    )
    device_id = uuid4().hex
    user.register_device(device_id, command.device_name)
    index = PasskeyCredential(registered.credential_id_b64, user.tenant_id, user.id)
    context = issued.event_context(tenant=user.tenant_id, actor=user.id, device=device_id)
    position = ports.app.save_atomically(user, index, context=context)
    tokens = ports.sessions.create_session(str(user.tenant_id), str(user.id), device_id)
    ports.login_guard.record_success(str(user.id))
    left = user.recovery_codes
    remaining = left["count"] - len(left["used"]) if left else 0
    ports.record_security_event(
        "recovery_code_used",
        "succeeded",
        tenant_id=user.tenant_id,
        user_id=user.id,
        device_id=device_id,
        details={"credential_id": registered.credential_id_b64, "codes_left": remaining},
        context=context,
    )
    return session_opened(user.tenant_id, user.id, device_id, tokens, position)
