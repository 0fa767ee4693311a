"""Signing a device in with the OAuth 2.0 device authorization grant (RFC 8628).

1. The device asks for codes (`request_device_authorization`: records nothing, like a
   ceremony's start) and shows the user code and the console's URL.
2. The signed-in person opens the code in the console, which starts a passkey ceremony whose
   challenge is bound to that code (`begin_device_approval`), and approves it with the
   assertion (`ApproveDeviceCode`), or denies it (`DenyDeviceCode`).
3. The device polls (`RedeemDeviceCode`) and, once approved, gets a session of its own: a new
   device of that person, revocable like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from pydantic import Field

from commands.base import Caller, Command, CommandResult, Issued
from commands.identity.context import IdentityPorts
from commands.identity.enrolment import session_opened
from commands.identity.login import _unb64, passkey_lookup
from commands.identity.models import DeviceName
from commands.ports.device_grants import DeviceGrants
from commands.ports.passkeys import CeremonyStart
from domain.errors import Unavailable
from domain.identity.device_grant import (
    DEVICE_CODE_TTL,
    DeviceCodeDecided,
    DeviceGrant,
    DeviceGrantStatus,
    InvalidGrant,
    UnknownUserCode,
    approval_binding,
    device_code_hash,
    new_device_code,
    normalize_user_code,
)
from domain.identity.scopes import DelegatedClient, delegated_scopes

if TYPE_CHECKING:
    from commands.dispatch import Ports

# A late poll is told `expired_token` for this long after expiry, then `invalid_grant`.
KEEP_AFTER_EXPIRY = DEVICE_CODE_TTL
UserCode = Field(min_length=8, max_length=20)


class ApproveDeviceCode(Command):
    """Let the device showing this code sign in as the caller: a passkey assertion whose
    challenge is bound to the code."""

    user_code: str = UserCode
    ceremony_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]


class DenyDeviceCode(Command):
    user_code: str = UserCode


class RedeemDeviceCode(Command):
    """The device's poll: a session once the person approved, else RFC 8628's answer."""

    device_code: str = Field(min_length=20, max_length=100)
    device_name: str = DeviceName


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    grant: DeviceGrant


def grants_of(ports: IdentityPorts) -> DeviceGrants:
    if ports.device_grants is None:
        raise Unavailable("device sign-in is not configured in this process")
    return ports.device_grants


def request_device_authorization(
    ports: IdentityPorts, client_name: str, scopes: tuple[str, ...] = ()
) -> DeviceAuthorization:
    grants = grants_of(ports)
    while True:
        grant = DeviceGrant.request(client_name, ports.clock(), scopes)
        device_code = new_device_code()
        keep_for = DEVICE_CODE_TTL + KEEP_AFTER_EXPIRY
        if grants.create(device_code_hash(device_code), grant, keep_for):
            return DeviceAuthorization(device_code, grant)


def pending_grant(ports: IdentityPorts, user_code: str) -> tuple[str, DeviceGrant]:
    found = grants_of(ports).find_by_user_code(normalize_user_code(user_code))
    if found is None or found[1].expired(ports.clock()):
        raise UnknownUserCode("no pending sign-in has this code", {"user_code": user_code[:20]})
    return found


def begin_device_approval(
    user_code: str, caller: Caller, ports: IdentityPorts
) -> tuple[CeremonyStart, DeviceGrant]:
    """The passkey ceremony approving this code (records nothing), and what it approves. A
    code decided already is said so now, before the person reaches for their passkey."""
    _, grant = pending_grant(ports, user_code)
    if grant.status is not DeviceGrantStatus.PENDING:
        raise DeviceCodeDecided(
            f"this code is {grant.status.value}", {"user_code": grant.user_code}
        )
    user = ports.get_user(caller.user_id, caller.tenant_id)
    start = ports.passkeys.begin_plan_approval(
        caller.user_id,
        approval_binding(grant.user_code),
        [_unb64(c) for c in user.passkeys],
    )
    return start, grant


def _decide(ports: IdentityPorts, code_hash: str, decided: DeviceGrant) -> None:
    if not grants_of(ports).decide(code_hash, decided):
        raise DeviceCodeDecided("this code was decided meanwhile", {"user_code": decided.user_code})


def approve_device_code(
    command: ApproveDeviceCode, issued: Issued, all_ports: Ports
) -> CommandResult:
    ports, caller = all_ports.identity, issued.signed_in()
    code_hash, grant = pending_grant(ports, command.user_code)
    verified = ports.passkeys.finish_plan_approval(
        command.ceremony_id,
        command.credential,
        approval_binding(grant.user_code),
        passkey_lookup(ports, caller.user_id),
    )
    credential_id = verified.assertion.credential_id_b64
    approved = grant.approve(str(caller.tenant_id), caller.user_id, credential_id, ports.clock())
    _decide(ports, code_hash, approved)
    position = ports.record_security_event(
        "device_authorization",
        "approved",
        tenant_id=caller.tenant_id,
        user_id=UUID(caller.user_id),
        device_id=caller.device_id,
        details={"client_name": grant.client_name, "credential_id": credential_id},
        context=issued.fact_context(),
    )
    return CommandResult({"user_code": grant.user_code}, position)


def deny_device_code(command: DenyDeviceCode, issued: Issued, all_ports: Ports) -> CommandResult:
    ports, caller = all_ports.identity, issued.signed_in()
    code_hash, grant = pending_grant(ports, command.user_code)
    denied = grant.deny(str(caller.tenant_id), caller.user_id, ports.clock())
    _decide(ports, code_hash, denied)
    position = ports.record_security_event(
        "device_authorization",
        "denied",
        tenant_id=caller.tenant_id,
        user_id=UUID(caller.user_id),
        device_id=caller.device_id,
        details={"client_name": grant.client_name},
        context=issued.fact_context(),
    )
    return CommandResult({"user_code": grant.user_code}, position)


def redeem_device_code(
    command: RedeemDeviceCode, issued: Issued, all_ports: Ports
) -> CommandResult:
    ports = all_ports.identity
    grants = grants_of(ports)
    code_hash = device_code_hash(command.device_code)
    grant = grants.get(code_hash)
    if grant is None:
        raise InvalidGrant("unknown or already used device code")
    polled, answer = grant.poll(ports.clock())
    if answer is not None:
        grants.record_poll(code_hash, polled)
        raise answer
    if not grants.exchange(code_hash):
        raise InvalidGrant("unknown or already used device code")
    assert polled.user_id is not None and polled.tenant_id is not None
    user = ports.get_user(polled.user_id, UUID(polled.tenant_id))
    user.check_active()
    device_id = uuid4().hex
    user.register_device(device_id, command.device_name)
    context = issued.event_context(tenant=user.tenant_id, actor=user.id, device=device_id)
    position = ports.app.save_atomically(user, context=context)
    # A device-signed CLI is a delegated client: `api` only unless it asked for more and may.
    scopes = delegated_scopes(DelegatedClient.CLI, polled.scopes)
    tokens = ports.sessions.create_session(
        str(user.tenant_id), str(user.id), device_id, scopes=scopes
    )
    ports.record_security_event(
        "login",
        "succeeded",
        tenant_id=user.tenant_id,
        user_id=user.id,
        device_id=device_id,
        details={"grant": "device_code", "client_name": polled.client_name},
        context=context,
    )
    return session_opened(user.tenant_id, user.id, device_id, tokens, position)
