"""Passkey login, refresh and step-up; every success and failure is a security event."""

from __future__ import annotations

import base64
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from commands.base import Caller, CommandResult, Issued
from commands.identity.context import IdentityPorts
from commands.identity.enrolment import session_opened
from commands.identity.models import FinishLogin, FinishStepUp, LogOut, RefreshSession
from commands.ports.passkeys import (
    CeremonyStart,
    ClonedAuthenticatorSuspicion,
    PasskeyLookup,
    StoredPasskey,
    b64url,
)
from domain.errors import DomainError, NotAuthenticated
from domain.identity.user import User

if TYPE_CHECKING:
    from commands.dispatch import Ports


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def passkey_lookup(ports: IdentityPorts, only_user: str | None = None) -> PasskeyLookup:
    def lookup(raw_credential_id: bytes) -> StoredPasskey | None:
        credential_id = b64url(raw_credential_id)
        index = ports.find_credential(credential_id)
        if index is None or (only_user is not None and str(index.user_id) != only_user):
            return None
        user = ports.get_user(index.user_id)
        passkey = user.passkeys.get(credential_id)
        if passkey is None or user.erased:
            return None
        return StoredPasskey(
            raw_credential_id,
            str(user.id),
            _unb64(str(passkey["public_key"])),
            int(passkey["sign_count"]),
        )

    return lookup


def _record_refusal(ports: IdentityPorts, kind: str, exc: DomainError) -> None:
    suspicion = getattr(exc, "suspicion", None)
    details: dict[str, object] = {"code": exc.code}
    user_id: UUID | None = None
    tenant_id: UUID | None = None
    if isinstance(suspicion, ClonedAuthenticatorSuspicion):
        details["flag"] = exc.details.get("flag")
        details["credential_id"] = b64url(suspicion.credential_id)
        details["stored_sign_count"] = suspicion.stored_sign_count
        details["presented_sign_count"] = suspicion.presented_sign_count
        user = ports.get_user(suspicion.user_id)
        user_id, tenant_id = user.id, user.tenant_id
    ports.record_security_event(
        kind, "refused", tenant_id=tenant_id, user_id=user_id, details=details
    )


def begin_login(ports: IdentityPorts, address: str) -> CeremonyStart:
    ports.login_guard.check(None, address)
    return ports.passkeys.begin_authentication(None, [])


def finish_login(command: FinishLogin, issued: Issued, all_ports: Ports) -> CommandResult:
    ports, address = all_ports.identity, issued.address
    ports.login_guard.check(None, address)
    try:
        verified = ports.passkeys.finish_authentication(
            command.ceremony_id, command.credential, passkey_lookup(ports)
        )
        user = ports.get_user(verified.user_id)
        user.check_active()
        _check_second_factor(user, command.totp_code, ports)
    except NotAuthenticated as exc:
        ports.login_guard.record_failure(None, address)
        _record_refusal(ports, "login", exc)
        raise
    device_id = command.device_id
    if device_id is None or device_id not in user.devices or user.devices[device_id]["revoked"]:
        device_id = uuid4().hex
        user.register_device(device_id, command.device_name)
    user.record_passkey_use(verified.credential_id_b64, verified.new_sign_count)
    context = issued.event_context(tenant=user.tenant_id, actor=user.id, device=device_id)
    position = ports.app.save_atomically(user, context=context)
    tokens = ports.sessions.create_session(str(user.tenant_id), str(user.id), device_id)
    ports.login_guard.record_success(str(user.id))
    ports.record_security_event(
        "login",
        "succeeded",
        tenant_id=user.tenant_id,
        user_id=user.id,
        device_id=device_id,
        details={"credential_id": verified.credential_id_b64},
        context=context,
    )
    return session_opened(user.tenant_id, user.id, device_id, tokens, position)


class SecondFactorRequired(NotAuthenticated):
    code = "totp_required"


def _check_second_factor(user: User, code: str | None, ports: IdentityPorts) -> None:
    if user.totp_secret_ref is None:
        return
    if code is None:
        raise SecondFactorRequired("this account needs a TOTP code as a second factor")
    secret = ports.vault.get_secret(str(user.tenant_id), user.totp_secret_ref)
    ports.totp.verify(str(user.tenant_id), str(user.id), secret.decode(), code)


def refresh_session(command: RefreshSession, issued: Issued, all_ports: Ports) -> CommandResult:
    ports = all_ports.identity
    try:
        pair = ports.sessions.refresh(command.refresh_token)
    except NotAuthenticated as exc:
        revoked = getattr(exc, "revoked", None)
        if revoked is not None and is_dataclass(revoked) and not isinstance(revoked, type):
            facts = asdict(revoked)
            ports.record_security_event(
                "refresh_token_reused",
                "family_revoked",
                tenant_id=UUID(str(facts["tenant"])),
                user_id=UUID(str(facts["user_id"])),
                device_id=str(facts["device_id"]),
                details={
                    "family_id": str(facts["family_id"]),
                    "session_ids": [str(s) for s in facts.get("session_ids", [])],
                },
            )
        raise
    return CommandResult(
        {"session_id": pair.session_id},
        credentials={"access_token": pair.access_token, "refresh_token": pair.refresh_token},
    )


def begin_step_up(caller: Caller, ports: IdentityPorts) -> CeremonyStart:
    user = ports.get_user(caller.user_id, caller.tenant_id)
    return ports.passkeys.begin_authentication(str(user.id), [_unb64(cid) for cid in user.passkeys])


def finish_step_up(command: FinishStepUp, issued: Issued, all_ports: Ports) -> CommandResult:
    ports = all_ports.identity
    caller, claims = issued.signed_in(), issued.access_claims()
    try:
        verified = ports.passkeys.finish_authentication(
            command.ceremony_id, command.credential, passkey_lookup(ports, caller.user_id)
        )
    except NotAuthenticated as exc:
        _record_refusal(ports, "step_up", exc)
        raise
    user = ports.get_user(caller.user_id, caller.tenant_id)
    user.record_passkey_use(verified.credential_id_b64, verified.new_sign_count)
    position = ports.app.save_atomically(user, context=issued.event_context())
    access_token = ports.sessions.step_up(claims)
    ports.record_security_event(
        "step_up",
        "succeeded",
        tenant_id=user.tenant_id,
        user_id=user.id,
        device_id=caller.device_id,
        context=issued.fact_context(),
    )
    return CommandResult(
        {"session_id": claims.session_id}, position, credentials={"access_token": access_token}
    )


def log_out(command: LogOut, issued: Issued, all_ports: Ports) -> CommandResult:
    """End the caller's session now; its tokens are refused from the next request on."""
    ports = all_ports.identity
    caller = issued.signed_in()
    session_id = caller.session_id or issued.access_claims().session_id
    ports.sessions.revoke_session(str(caller.tenant_id), session_id, "logout")
    position = ports.record_security_event(
        "logout",
        "succeeded",
        tenant_id=caller.tenant_id,
        device_id=caller.device_id,
        context=issued.fact_context(),
    )
    return CommandResult({"session_id": session_id}, position)
