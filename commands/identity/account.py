"""Changes to one's own account or, for admins, to others': devices, passkeys, capabilities,
TOTP and erasure. Each change that could lock a person out or widen access needs a fresh
passkey assertion (step-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from commands.base import Caller, CommandResult, Issued
from commands.context.forget import forget_person
from commands.identity.context import IdentityPorts
from commands.identity.login import _unb64
from commands.identity.models import (
    ConfirmTotp,
    EnrolTotp,
    EraseUser,
    FinishAddPasskey,
    GrantCapability,
    RemovePasskey,
    RevokeCapability,
    RevokeDevice,
)
from commands.identity.recovery import forget_recovery_codes
from commands.integrations.lifecycle import disconnect_person
from commands.ports.passkeys import CeremonyStart, b64url
from commands.ports.sessions import AccessClaims
from domain.errors import Forbidden, NotFound
from domain.identity.capabilities import TENANT_ADMIN, holds
from domain.identity.credential import PasskeyCredential
from domain.identity.user import User

if TYPE_CHECKING:
    from commands.dispatch import Ports


def _stepped_up(issued: Issued, ports: Ports) -> Caller:
    """The caller, if they proved presence with a passkey in the last minutes."""
    caller = issued.signed_in()
    ports.identity.tokens.require_fresh(issued.access_claims())
    return caller


def _self_or_admin(caller: Caller, user_id: UUID | str) -> None:
    if str(user_id) != caller.user_id and not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("changing another user needs the tenant.admin capability")


def _save(ports: Ports, issued: Issued, *aggregates: Any) -> int | None:
    return ports.identity.app.save_atomically(*aggregates, context=issued.event_context())


def revoke_device(command: RevokeDevice, issued: Issued, ports: Ports) -> CommandResult:
    caller = _stepped_up(issued, ports)
    identity = ports.identity
    user = identity.get_user(caller.user_id, caller.tenant_id)
    user.revoke_device(command.device_id, "revoked by the user")
    position = _save(ports, issued, user)
    ended = identity.sessions.revoke_device(str(caller.tenant_id), command.device_id)
    identity.record_security_event(
        "device_revoked",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        device_id=command.device_id,
        details={"sessions_ended": ended},
        context=issued.fact_context(),
    )
    return CommandResult({"device_id": command.device_id}, position)


def begin_add_passkey(caller: Caller, claims: AccessClaims, ports: IdentityPorts) -> CeremonyStart:
    """Start registering another passkey (records nothing: not a command)."""
    ports.tokens.require_fresh(claims)
    user = ports.get_user(caller.user_id, caller.tenant_id)
    name = ports.vault.open_personal(str(user.tenant_id), user.email_sealed, "email")
    shown = ports.vault.open_personal(str(user.tenant_id), user.display_name_sealed, "display_name")
    return ports.passkeys.begin_registration(
        str(user.id), str(name), str(shown), [_unb64(c) for c in user.passkeys]
    )


def finish_add_passkey(command: FinishAddPasskey, issued: Issued, ports: Ports) -> CommandResult:
    caller = _stepped_up(issued, ports)
    identity = ports.identity
    registered = identity.passkeys.finish_registration(
        command.ceremony_id,
        command.credential,
        lambda raw: identity.find_credential(b64url(raw)) is not None,
    )
    user = identity.get_user(caller.user_id, caller.tenant_id)
    user.add_passkey(
        registered.credential_id_b64,
        b64url(registered.public_key),
        registered.sign_count,
        registered.aaguid,
        registered.backed_up,
        command.name,
    )
    index = PasskeyCredential(registered.credential_id_b64, user.tenant_id, user.id)
    position = _save(ports, issued, user, index)
    identity.record_security_event(
        "passkey_added",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        device_id=caller.device_id,
        context=issued.fact_context(),
    )
    return CommandResult({"credential_id": registered.credential_id_b64}, position)


def remove_passkey(command: RemovePasskey, issued: Issued, ports: Ports) -> CommandResult:
    caller = _stepped_up(issued, ports)
    identity = ports.identity
    user = identity.get_user(caller.user_id, caller.tenant_id)
    user.remove_passkey(command.credential_id)
    index = identity.find_credential(command.credential_id)
    if index is None:
        raise NotFound("no such passkey", {"credential_id": command.credential_id})
    index.release()
    position = _save(ports, issued, user, index)
    identity.record_security_event(
        "passkey_removed",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        device_id=caller.device_id,
        context=issued.fact_context(),
    )
    return CommandResult({"credential_id": command.credential_id}, position)


def grant_capability(command: GrantCapability, issued: Issued, ports: Ports) -> CommandResult:
    return _change_capability(command.user_id, command.capability, True, issued, ports)


def revoke_capability(command: RevokeCapability, issued: Issued, ports: Ports) -> CommandResult:
    return _change_capability(command.user_id, command.capability, False, issued, ports)


def _change_capability(
    user_id: str, capability: str, grant: bool, issued: Issued, ports: Ports
) -> CommandResult:
    caller = issued.signed_in()
    if not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("changing capabilities needs the tenant.admin capability")
    _stepped_up(issued, ports)
    identity = ports.identity
    user = identity.get_user(user_id, caller.tenant_id)
    if grant:
        user.grant(capability, caller.user_id)
    else:
        user.revoke(capability, caller.user_id)
    position = _save(ports, issued, user)
    identity.record_security_event(
        "capability_granted" if grant else "capability_revoked",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        details={"capability": capability, "by": caller.user_id},
        context=issued.fact_context(),
    )
    return CommandResult({"user_id": str(user.id)}, position)


def _pending_totp_record(user: User) -> str:
    return f"totp-pending:{user.id}"


def enrol_totp(command: EnrolTotp, issued: Issued, ports: Ports) -> CommandResult:
    """A new secret, kept pending in the vault until confirmed; handed back once."""
    caller = _stepped_up(issued, ports)
    identity = ports.identity
    user = identity.get_user(caller.user_id, caller.tenant_id)
    enrolment = identity.totp.enrol(str(user.id))
    identity.vault.put_secret(
        str(user.tenant_id), _pending_totp_record(user), enrolment.secret.encode()
    )
    return CommandResult(
        {"user_id": str(user.id)},
        credentials={"secret": enrolment.secret, "provisioning_uri": enrolment.provisioning_uri},
    )


def confirm_totp(command: ConfirmTotp, issued: Issued, ports: Ports) -> CommandResult:
    caller = _stepped_up(issued, ports)
    identity = ports.identity
    user = identity.get_user(caller.user_id, caller.tenant_id)
    tenant = str(user.tenant_id)
    secret = identity.vault.get_secret(tenant, _pending_totp_record(user))
    identity.totp.verify(tenant, str(user.id), secret.decode(), command.code)
    ref = identity.vault.put_secret(tenant, f"totp:{user.id}", secret)
    identity.vault.delete_secret(tenant, _pending_totp_record(user))
    user.enable_totp(ref.record_id)
    position = _save(ports, issued, user)
    identity.record_security_event(
        "totp_enabled",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        context=issued.fact_context(),
    )
    return CommandResult({"user_id": str(user.id)}, position)


def erase_user(command: EraseUser, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    _self_or_admin(caller, command.user_id)
    _stepped_up(issued, ports)
    identity = ports.identity
    user = identity.get_user(command.user_id, caller.tenant_id)
    user.erase(caller.user_id)  # refused (erased already) before anything below happens
    if ports.connections is not None:
        # First: a retry after a failure below finds these done. Tokens are shredded even
        # where the provider does not answer the revocation.
        disconnect_person(
            ports.connections, str(user.tenant_id), str(user.id), issued.event_context()
        )
    if ports.context is not None:
        # Their context graph too (a retry finds the forgotten memories gone from the store).
        forget_person(
            ports.context, user.tenant_id, str(user.id), caller.user_id, issued.event_context()
        )
    position = _save(ports, issued, user)
    # After this no one can read the user's personal fields in any event, ever.
    identity.vault.erase_subject(str(user.tenant_id), str(user.id))
    forget_recovery_codes(user, identity)
    identity.sessions.revoke_user(str(user.tenant_id), str(user.id), "user erased")
    identity.record_security_event(
        "user_erased",
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=user.id,
        details={"by": caller.user_id},
        context=issued.fact_context(),
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
