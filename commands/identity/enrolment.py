"""Sign-up (a new tenant and its first admin) and accepting an invitation: both register the
person's first passkey and device and open a session, in one atomic append."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from commands.base import CommandResult, Issued
from commands.identity.context import IdentityPorts
from commands.identity.models import (
    BeginAcceptInvitation,
    BeginSignUp,
    FinishAcceptInvitation,
    FinishSignUp,
    InviteUser,
)
from commands.ports.passkeys import CeremonyStart, CredentialExists, RegisteredPasskey, b64url
from commands.ports.sessions import TokenPair
from domain.errors import Conflict, Forbidden, NotFound
from domain.identity.capabilities import TENANT_ADMIN, holds
from domain.identity.credential import InvitationIndex, PasskeyCredential
from domain.identity.tenant import Tenant, check_slug
from domain.identity.user import User

if TYPE_CHECKING:
    from commands.dispatch import Ports

# What a new person may do on their own until an admin grants more.
STARTER_CAPABILITIES = ("calendar.write", "notes.write", "reminders.write")


def session_opened(
    tenant_id: UUID, user_id: UUID, device_id: str, tokens: TokenPair, position: int | None
) -> CommandResult:
    """What sign-up, accepting an invitation and login answer: the session's ids and its
    tokens (handed back once, never stored with the answer)."""
    return CommandResult(
        {
            "tenant_id": str(tenant_id),
            "user_id": str(user_id),
            "device_id": device_id,
            "session_id": tokens.session_id,
        },
        position,
        credentials={"access_token": tokens.access_token, "refresh_token": tokens.refresh_token},
    )


def invitation_id_for(token: str) -> str:
    # Only a hash of the invitation token is stored: the token itself is a bearer secret.
    return hashlib.sha256(f"cairn-invitation:{token}".encode()).hexdigest()[:32]


def _credential_taken(ports: IdentityPorts) -> CredentialExists:
    return lambda raw: ports.find_credential(b64url(raw)) is not None


def _new_user(
    ports: IdentityPorts,
    tenant_id: UUID,
    registered: RegisteredPasskey,
    display_name: str,
    email: str,
    capabilities: list[str],
    device_id: str,
    device_name: str,
) -> tuple[User, PasskeyCredential]:
    user_id = UUID(registered.user_id)
    seal = ports.vault.seal_personal
    user = User(
        user_id,
        tenant_id,
        seal(str(tenant_id), str(user_id), "display_name", display_name),
        seal(str(tenant_id), str(user_id), "email", email),
        capabilities,
    )
    user.add_passkey(
        registered.credential_id_b64,
        b64url(registered.public_key),
        registered.sign_count,
        registered.aaguid,
        registered.backed_up,
        "first passkey",
    )
    user.register_device(device_id, device_name)
    index = PasskeyCredential(registered.credential_id_b64, tenant_id, user_id)
    return user, index


def begin_sign_up(command: BeginSignUp, ports: IdentityPorts) -> CeremonyStart:
    check_slug(command.tenant_slug)
    if ports.find(Tenant.create_id(command.tenant_slug)) is not None:
        raise Conflict("this tenant slug is taken", {"tenant_slug": command.tenant_slug})
    return ports.passkeys.begin_registration(str(uuid4()), command.email, command.display_name, [])


def finish_sign_up(command: FinishSignUp, issued: Issued, all_ports: Ports) -> CommandResult:
    ports = all_ports.identity
    check_slug(command.tenant_slug)
    registered = ports.passkeys.finish_registration(
        command.ceremony_id, command.credential, _credential_taken(ports)
    )
    tenant = Tenant(command.tenant_slug, command.tenant_name)
    device_id = uuid4().hex
    user, index = _new_user(
        ports,
        tenant.id,
        registered,
        command.display_name,
        command.email,
        [TENANT_ADMIN, *STARTER_CAPABILITIES],
        device_id,
        command.device_name,
    )
    context = issued.event_context(tenant=tenant.id, actor=user.id, device=device_id)
    position = ports.app.save_atomically(tenant, user, index, context=context)
    tokens = ports.sessions.create_session(str(tenant.id), str(user.id), device_id)
    ports.record_security_event(
        "signup",
        "succeeded",
        tenant_id=tenant.id,
        user_id=user.id,
        device_id=device_id,
        context=context,
    )
    return session_opened(tenant.id, user.id, device_id, tokens, position)


def invite_user(command: InviteUser, issued: Issued, all_ports: Ports) -> CommandResult:
    ports = all_ports.identity
    caller = issued.signed_in()
    if not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("inviting users needs the tenant.admin capability")
    tenant = ports.get_tenant(caller.tenant_id)
    token = secrets.token_urlsafe(32)
    invitation_id = invitation_id_for(token)
    sealed_email = ports.vault.seal_personal(
        str(tenant.id), f"invitation:{invitation_id}", "email", command.email
    )
    tenant.invite(
        invitation_id,
        sealed_email,
        command.capabilities,
        caller.user_id,
        ports.clock() + timedelta(hours=command.valid_for_hours),
    )
    index = InvitationIndex(invitation_id, tenant.id)
    position = ports.app.save_atomically(tenant, index, context=issued.event_context())
    # The token is a bearer secret: handed back once, only its hash is stored.
    return CommandResult(
        {"invitation_id": invitation_id}, position, credentials={"invitation_token": token}
    )


def _open_invitation(token: str, ports: IdentityPorts) -> tuple[Tenant, str]:
    # The token says nothing about its tenant on purpose; the tenant is found by the hash.
    invitation_id = invitation_id_for(token)
    tenant_id = _tenant_of_invitation(invitation_id, ports)
    tenant = ports.get_tenant(tenant_id)
    tenant.check_invitation_open(invitation_id, ports.clock())
    return tenant, invitation_id


def _tenant_of_invitation(invitation_id: str, ports: IdentityPorts) -> UUID:
    lookup = ports.invitation_index(invitation_id)
    if lookup is None:
        raise NotFound("no such invitation")
    return lookup


def begin_accept_invitation(command: BeginAcceptInvitation, ports: IdentityPorts) -> CeremonyStart:
    tenant, invitation_id = _open_invitation(command.invitation_token, ports)
    email = ports.vault.open_personal(
        str(tenant.id), str(tenant.invitations[invitation_id]["email_sealed"]), "email"
    )
    return ports.passkeys.begin_registration(str(uuid4()), str(email), command.display_name, [])


def finish_accept_invitation(
    command: FinishAcceptInvitation, issued: Issued, all_ports: Ports
) -> CommandResult:
    ports = all_ports.identity
    tenant, invitation_id = _open_invitation(command.invitation_token, ports)
    registered = ports.passkeys.finish_registration(
        command.ceremony_id, command.credential, _credential_taken(ports)
    )
    invitation = tenant.invitations[invitation_id]
    email = ports.vault.open_personal(str(tenant.id), str(invitation["email_sealed"]), "email")
    granted = invitation["capabilities"]
    assert isinstance(granted, list)
    capabilities = [*STARTER_CAPABILITIES, *(str(c) for c in granted)]
    device_id = uuid4().hex
    user, index = _new_user(
        ports,
        tenant.id,
        registered,
        command.display_name,
        str(email),
        capabilities,
        device_id,
        command.device_name,
    )
    tenant.accept_invitation(invitation_id, user.id, ports.clock())
    context = issued.event_context(tenant=tenant.id, actor=user.id, device=device_id)
    position = ports.app.save_atomically(tenant, user, index, context=context)
    tokens = ports.sessions.create_session(str(tenant.id), str(user.id), device_id)
    ports.record_security_event(
        "invitation_accepted",
        "succeeded",
        tenant_id=tenant.id,
        user_id=user.id,
        device_id=device_id,
        context=context,
    )
    return session_opened(tenant.id, user.id, device_id, tokens, position)
