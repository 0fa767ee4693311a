"""The caller's account and, for admins, the tenant's users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import Claims, CurrentCaller, Identity
from api.routes.identity import Ceremony
from commands.identity import account
from commands.identity.models import ConfirmTotp, FinishAddPasskey, GrantCapability

router = APIRouter(prefix="/v1", tags=["account"])


class Accepted(BaseModel):
    ids: dict[str, str]
    position: int | None


class TotpEnrolmentOut(BaseModel):
    secret: str
    provisioning_uri: str


def _accepted(result: Any) -> Accepted:
    return Accepted(ids=result.ids, position=result.position)


@router.get("/me", operation_id="getMe")
def get_me(caller: CurrentCaller, identity: Identity) -> dict[str, Any]:
    """The caller: capabilities, passkeys, devices, personal fields."""
    return account.describe_user(caller.user_id, caller, identity)


@router.get("/users/{user_id}", operation_id="getUser")
def get_user(user_id: str, caller: CurrentCaller, identity: Identity) -> dict[str, Any]:
    """A user of the caller's tenant (oneself, or anyone for a `tenant.admin`)."""
    return account.describe_user(user_id, caller, identity)


@router.post("/devices/{device_id}/revoke", operation_id="revokeDevice", response_model=Accepted)
def revoke_device(
    device_id: str, caller: CurrentCaller, claims: Claims, identity: Identity
) -> Accepted:
    """Revoke one of the caller's devices: its sessions end at once (needs step-up)."""
    return _accepted(account.revoke_device(device_id, caller, claims, identity))


@router.post("/passkeys/begin", operation_id="beginAddPasskey", response_model=Ceremony)
def begin_add_passkey(caller: CurrentCaller, claims: Claims, identity: Identity) -> Ceremony:
    """Start registering another passkey (needs step-up)."""
    start = account.begin_add_passkey(caller, claims, identity)
    return Ceremony(ceremony_id=start.ceremony_id, options=start.options)


@router.post(
    "/passkeys/finish", operation_id="finishAddPasskey", response_model=Accepted, status_code=201
)
def finish_add_passkey(
    body: FinishAddPasskey, caller: CurrentCaller, claims: Claims, identity: Identity
) -> Accepted:
    """Verify and add the passkey (needs step-up)."""
    return _accepted(account.finish_add_passkey(body, caller, claims, identity))


@router.delete("/passkeys/{credential_id}", operation_id="removePasskey", response_model=Accepted)
def remove_passkey(
    credential_id: str, caller: CurrentCaller, claims: Claims, identity: Identity
) -> Accepted:
    """Remove one of the caller's passkeys, never the last one (needs step-up)."""
    return _accepted(account.remove_passkey(credential_id, caller, claims, identity))


@router.post(
    "/users/{user_id}/capabilities", operation_id="grantCapability", response_model=Accepted
)
def grant_capability(
    user_id: str,
    body: GrantCapability,
    caller: CurrentCaller,
    claims: Claims,
    identity: Identity,
) -> Accepted:
    """Grant a capability (needs `tenant.admin` and step-up)."""
    return _accepted(account.change_capability(user_id, body, True, caller, claims, identity))


@router.delete(
    "/users/{user_id}/capabilities/{capability}",
    operation_id="revokeCapability",
    response_model=Accepted,
)
def revoke_capability(
    user_id: str, capability: str, caller: CurrentCaller, claims: Claims, identity: Identity
) -> Accepted:
    """Revoke a capability (needs `tenant.admin` and step-up)."""
    body = GrantCapability(capability=capability)
    return _accepted(account.change_capability(user_id, body, False, caller, claims, identity))


@router.post("/totp/enrol", operation_id="enrolTotp", response_model=TotpEnrolmentOut)
def enrol_totp(caller: CurrentCaller, claims: Claims, identity: Identity) -> TotpEnrolmentOut:
    """Start TOTP enrolment: the secret is shown once (needs step-up)."""
    enrolment = account.enrol_totp(caller, claims, identity)
    return TotpEnrolmentOut(secret=enrolment.secret, provisioning_uri=enrolment.provisioning_uri)


@router.post("/totp/confirm", operation_id="confirmTotp", response_model=Accepted)
def confirm_totp(
    body: ConfirmTotp, caller: CurrentCaller, claims: Claims, identity: Identity
) -> Accepted:
    """Confirm TOTP with a current code; from now on login needs a code too."""
    return _accepted(account.confirm_totp(body, caller, claims, identity))


@router.post("/users/{user_id}/erase", operation_id="eraseUser", response_model=Accepted)
def erase_user(user_id: str, caller: CurrentCaller, claims: Claims, identity: Identity) -> Accepted:
    """Erase a user (oneself, or anyone for a `tenant.admin`; needs step-up): their personal
    fields become unreadable in every event, and all their sessions end."""
    return _accepted(account.erase_user(user_id, caller, claims, identity))
