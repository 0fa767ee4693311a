"""Changes to one's own account or, for admins, to others': devices, passkeys, capabilities,
TOTP and erasure. Each change that could lock a person out or widen access needs a fresh
passkey assertion (step-up)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands.base import Caller, CommandResult
from commands.identity.context import IdentityPorts, conflicts_as_409
from commands.identity.login import _unb64
from commands.identity.models import ConfirmTotp, FinishAddPasskey, GrantCapability
from commands.ports.passkeys import CeremonyStart, b64url
from commands.ports.sessions import AccessClaims, TotpEnrolment
from domain.errors import Forbidden, NotFound
from domain.identity.capabilities import TENANT_ADMIN, holds
from domain.identity.credential import PasskeyCredential
from domain.identity.user import User


def _save(ports: IdentityPorts, caller: Caller, *aggregates: Any) -> int | None:
    with conflicts_as_409("the account"):
        return ports.app.save_atomically(*aggregates, context=caller.event_context())


def _self_or_admin(caller: Caller, user_id: UUID | str) -> None:
    if str(user_id) != caller.user_id and not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("changing another user needs the tenant.admin capability")


def revoke_device(
    device_id: str, caller: Caller, claims: AccessClaims, ports: IdentityPorts
) -> CommandResult:
    ports.tokens.require_fresh(claims)
    user = ports.get_user(caller.user_id, caller.tenant_id)
    user.revoke_device(device_id, "revoked by the user")
    position = _save(ports, caller, user)
    ended = ports.sessions.revoke_device(str(caller.tenant_id), device_id)
    ports.record_security_event(
        "device_revoked",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        device_id=device_id,
        details={"sessions_ended": ended},
    )
    return CommandResult({"device_id": device_id}, position)


def begin_add_passkey(caller: Caller, claims: AccessClaims, ports: IdentityPorts) -> CeremonyStart:
    ports.tokens.require_fresh(claims)
    user = ports.get_user(caller.user_id, caller.tenant_id)
    name = ports.vault.open_personal(str(user.tenant_id), user.email_sealed, "email")
    shown = ports.vault.open_personal(str(user.tenant_id), user.display_name_sealed, "display_name")
    return ports.passkeys.begin_registration(
        str(user.id), str(name), str(shown), [_unb64(c) for c in user.passkeys]
    )


def finish_add_passkey(
    command: FinishAddPasskey, caller: Caller, claims: AccessClaims, ports: IdentityPorts
) -> CommandResult:
    ports.tokens.require_fresh(claims)
    registered = ports.passkeys.finish_registration(
        command.ceremony_id,
        command.credential,
        lambda raw: ports.find_credential(b64url(raw)) is not None,
    )
    user = ports.get_user(caller.user_id, caller.tenant_id)
    user.add_passkey(
        registered.credential_id_b64,
        b64url(registered.public_key),
        registered.sign_count,
        registered.aaguid,
        registered.backed_up,
        command.name,
    )
    index = PasskeyCredential(registered.credential_id_b64, user.tenant_id, user.id)
    position = _save(ports, caller, user, index)
    ports.record_security_event(
        "passkey_added",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        device_id=caller.device_id,
    )
    return CommandResult({"credential_id": registered.credential_id_b64}, position)


def remove_passkey(
    credential_id: str, caller: Caller, claims: AccessClaims, ports: IdentityPorts
) -> CommandResult:
    ports.tokens.require_fresh(claims)
    user = ports.get_user(caller.user_id, caller.tenant_id)
    user.remove_passkey(credential_id)
    index = ports.find_credential(credential_id)
    if index is None:
        raise NotFound("no such passkey", {"credential_id": credential_id})
    index.release()
    position = _save(ports, caller, user, index)
    ports.record_security_event(
        "passkey_removed",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        device_id=caller.device_id,
    )
    return CommandResult({"credential_id": credential_id}, position)


def change_capability(
    user_id: str,
    command: GrantCapability,
    grant: bool,
    caller: Caller,
    claims: AccessClaims,
    ports: IdentityPorts,
) -> CommandResult:
    if not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("changing capabilities needs the tenant.admin capability")
    ports.tokens.require_fresh(claims)
    user = ports.get_user(user_id, caller.tenant_id)
    if grant:
        user.grant(command.capability, caller.user_id)
    else:
        user.revoke(command.capability, caller.user_id)
    position = _save(ports, caller, user)
    ports.record_security_event(
        "capability_granted" if grant else "capability_revoked",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        details={"capability": command.capability, "by": caller.user_id},
    )
    return CommandResult({"user_id": str(user.id)}, position)


def _pending_totp_record(user: User) -> str:
    return f"totp-pending:{user.id}"


def enrol_totp(caller: Caller, claims: AccessClaims, ports: IdentityPorts) -> TotpEnrolment:
    ports.tokens.require_fresh(claims)
    user = ports.get_user(caller.user_id, caller.tenant_id)
    enrolment = ports.totp.enrol(str(user.id))
    ports.vault.put_secret(
        str(user.tenant_id), _pending_totp_record(user), enrolment.secret.encode()
    )
    return enrolment


def confirm_totp(
    command: ConfirmTotp, caller: Caller, claims: AccessClaims, ports: IdentityPorts
) -> CommandResult:
    ports.tokens.require_fresh(claims)
    user = ports.get_user(caller.user_id, caller.tenant_id)
    tenant = str(user.tenant_id)
    secret = ports.vault.get_secret(tenant, _pending_totp_record(user))
    ports.totp.verify(tenant, str(user.id), secret.decode(), command.code)
    ref = ports.vault.put_secret(tenant, f"totp:{user.id}", secret)
    ports.vault.delete_secret(tenant, _pending_totp_record(user))
    user.enable_totp(ref.record_id)
    position = _save(ports, caller, user)
    ports.record_security_event(
        "totp_enabled", "succeeded", tenant_id=caller.tenant_id, user_id=user.id
    )
    return CommandResult({"user_id": str(user.id)}, position)


def erase_user(
    user_id: str, caller: Caller, claims: AccessClaims, ports: IdentityPorts
) -> CommandResult:
    _self_or_admin(caller, user_id)
    ports.tokens.require_fresh(claims)
    user = ports.get_user(user_id, caller.tenant_id)
    user.erase(caller.user_id)
    position = _save(ports, caller, user)
    # After this no one can read the user's personal fields in any event, ever.
    ports.vault.erase_subject(str(user.tenant_id), str(user.id))
    ports.sessions.revoke_user(str(user.tenant_id), str(user.id), "user erased")
    ports.record_security_event(
        "user_erased",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        details={"by": caller.user_id},
    )
    return CommandResult({"user_id": str(user.id)}, position)


def describe_user(user_id: str, caller: Caller, ports: IdentityPorts) -> dict[str, Any]:
    """The user as an API answer, personal fields opened (or shown as erased)."""
    if user_id != caller.user_id and not holds(caller.capabilities, TENANT_ADMIN):
        raise NotFound("no such user", {"user_id": user_id})
    user = ports.get_user(user_id, caller.tenant_id)
    tenant = str(user.tenant_id)
    return {
        "user_id": str(user.id),
        "tenant_id": tenant,
        "display_name": str(
            ports.vault.open_personal(tenant, user.display_name_sealed, "display_name")
        ),
        "email": str(ports.vault.open_personal(tenant, user.email_sealed, "email")),
        "capabilities": list(user.capabilities),
        "erased": user.erased,
        "totp_enabled": user.totp_secret_ref is not None,
        "passkeys": [
            {"credential_id": cid, "name": p["name"], "backed_up": p["backed_up"]}
            for cid, p in user.passkeys.items()
        ],
        "devices": [
            {"device_id": did, "name": d["name"], "revoked": d["revoked"]}
            for did, d in user.devices.items()
        ],
    }
