"""The caller's account and, for admins, the tenant's users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import Claims, CurrentCaller, Identity
from api.dispatch import Send, build
from api.models import Accepted, Ceremony
from commands.base import CommandResult
from commands.identity import account
from commands.identity.models import (
    Capability,
    ConfirmTotp,
    EnrolTotp,
    EraseUser,
    FinishAddPasskey,
    GrantCapability,
    RemovePasskey,
    RevokeCapability,
    RevokeDevice,
)

router = APIRouter(prefix="/v1", tags=["account"])


class DeviceAccepted(Accepted):
    device_id: str


class PasskeyAccepted(Accepted):
    credential_id: str


class UserAccepted(Accepted):
    user_id: str


class CapabilityIn(BaseModel):
    capability: str = Capability


class TotpEnrolmentOut(BaseModel):
    secret: str
    provisioning_uri: str

    @classmethod
    def of(cls, enrolled: CommandResult) -> TotpEnrolmentOut:
        return cls(**enrolled.credentials)


@router.get("/me", operation_id="getMe")
def get_me(caller: CurrentCaller, identity: Identity) -> dict[str, Any]:
    """The caller: capabilities, passkeys, devices, personal fields."""
    return account.describe_user(caller.user_id, caller, identity)


@router.get("/users/{user_id}", operation_id="getUser")
def get_user(user_id: str, caller: CurrentCaller, identity: Identity) -> dict[str, Any]:
    """A user of the caller's tenant (oneself, or anyone for a `tenant.admin`)."""
    return account.describe_user(user_id, caller, identity)


@router.post(
    "/devices/{device_id}/revoke",
    operation_id="revokeDevice",
    status_code=202,
    response_model=DeviceAccepted,
)
def revoke_device(device_id: str, send: Send) -> JSONResponse:
    """Revoke one of the caller's devices: its sessions end at once (needs step-up)."""
    return send.accepted(build(RevokeDevice, device_id=device_id))


@router.post("/passkeys/begin", operation_id="beginAddPasskey", response_model=Ceremony)
def begin_add_passkey(caller: CurrentCaller, claims: Claims, identity: Identity) -> Ceremony:
    """Start registering another passkey (needs step-up)."""
    start = account.begin_add_passkey(caller, claims, identity)
    return Ceremony.of(start)


@router.post(
    "/passkeys/finish",
    operation_id="finishAddPasskey",
    status_code=202,
    response_model=PasskeyAccepted,
)
def finish_add_passkey(body: FinishAddPasskey, send: Send) -> JSONResponse:
    """Verify and add the passkey (needs step-up)."""
    return send.accepted(body)


@router.delete(
    "/passkeys/{credential_id}",
    operation_id="removePasskey",
    status_code=202,
    response_model=PasskeyAccepted,
)
def remove_passkey(credential_id: str, send: Send) -> JSONResponse:
    """Remove one of the caller's passkeys, never the last one (needs step-up)."""
    return send.accepted(build(RemovePasskey, credential_id=credential_id))


@router.post(
    "/users/{user_id}/capabilities",
    operation_id="grantCapability",
    status_code=202,
    response_model=UserAccepted,
)
def grant_capability(user_id: str, body: CapabilityIn, send: Send) -> JSONResponse:
    """Grant a capability (needs `tenant.admin` and step-up)."""
    return send.accepted(build(GrantCapability, user_id=user_id, capability=body.capability))


@router.delete(
    "/users/{user_id}/capabilities/{capability}",
    operation_id="revokeCapability",
    status_code=202,
    response_model=UserAccepted,
)
def revoke_capability(user_id: str, capability: str, send: Send) -> JSONResponse:
    """Revoke a capability (needs `tenant.admin` and step-up)."""
    return send.accepted(build(RevokeCapability, user_id=user_id, capability=capability))


@router.post("/totp/enrol", operation_id="enrolTotp", response_model=TotpEnrolmentOut)
def enrol_totp(send: Send) -> JSONResponse:
    """Start TOTP enrolment: the secret is shown once (needs step-up)."""
    return send.with_credentials(EnrolTotp(), TotpEnrolmentOut.of)


@router.post(
    "/totp/confirm", operation_id="confirmTotp", status_code=202, response_model=UserAccepted
)
def confirm_totp(body: ConfirmTotp, send: Send) -> JSONResponse:
    """Confirm TOTP with a current code; from now on login needs a code too."""
    return send.accepted(body)


@router.post(
    "/users/{user_id}/erase", operation_id="eraseUser", status_code=202, response_model=UserAccepted
)
def erase_user(user_id: str, send: Send) -> JSONResponse:
    """Erase a user (oneself, or anyone for a `tenant.admin`; needs step-up): their personal
    fields become unreadable in every event, and all their sessions end."""
    return send.accepted(build(EraseUser, user_id=user_id))
