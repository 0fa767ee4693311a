"""Signing a device in with the OAuth 2.0 device authorization grant (RFC 8628).

The device (the `cairn` CLI) asks for codes and polls; the person approves the user code in
the console with a passkey assertion bound to that code (docs/device-login.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import ClientAddress, CurrentCaller, ServicesDep
from api.dispatch import Send, SendAnonymous
from api.models import Accepted, ErrorResponse
from api.routes.identity import AUTH, Session
from commands.identity import device
from commands.identity.device import ApproveDeviceCode, DenyDeviceCode, RedeemDeviceCode
from domain.storable import StorableModel

router = APIRouter(prefix="/v1/device", tags=["identity"])
VERIFICATION_PATH = "/device"


class DeviceAuthorizationIn(StorableModel):
    client_name: str = Field(default="cairn CLI", min_length=1, max_length=80)
    scope: str = Field(
        default="",
        max_length=200,
        description="RFC 8628 `scope`, space-separated: what the device asks for beyond the "
        "delegated default (shown to the person when they approve).",
    )


class DeviceAuthorizationOut(BaseModel):
    """RFC 8628 §3.2: show `user_code` and `verification_uri`; poll `POST /v1/device/token`
    with `device_code` every `interval` seconds until `expires_in` runs out."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class UserCodeIn(StorableModel):
    user_code: str = device.UserCode


class DeviceApprovalCeremony(BaseModel):
    """Pass `options` to navigator.credentials.get(): the challenge is bound to the code."""

    ceremony_id: str
    options: dict[str, Any]
    user_code: str
    client_name: str
    scopes: list[str]
    expires_at: datetime


class DeviceCodeAccepted(Accepted):
    user_code: str


POLL_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "RFC 8628 §3.5: `authorization_pending`, `slow_down` (details.interval), "
        "`expired_token`, `access_denied`, `invalid_grant`",
    },
}


@router.post(
    "/authorize", operation_id="requestDeviceAuthorization", response_model=DeviceAuthorizationOut
)
def request_device_authorization(
    body: DeviceAuthorizationIn, services: ServicesDep, address: ClientAddress
) -> DeviceAuthorizationOut:
    """Start signing a device in: a device code to poll with and a user code for the person
    to approve in the console (valid 10 minutes). Records nothing."""
    services.rate_limiter.enforce(AUTH, "anonymous", address)
    scopes = tuple(body.scope.split())
    started = device.request_device_authorization(services.identity, body.client_name, scopes)
    grant = started.grant
    uri = services.settings.origins[0].rstrip("/") + VERIFICATION_PATH
    return DeviceAuthorizationOut(
        device_code=started.device_code,
        user_code=grant.user_code,
        verification_uri=uri,
        verification_uri_complete=f"{uri}?user_code={grant.user_code}",
        expires_in=int((grant.expires_at - grant.created_at).total_seconds()),
        interval=grant.interval_s,
    )


@router.post(
    "/token", operation_id="redeemDeviceCode", response_model=Session, responses=POLL_ERRORS
)
def redeem_device_code(body: RedeemDeviceCode, send: SendAnonymous) -> JSONResponse:
    """The device's poll: 400 `authorization_pending` until the person approves, then a
    session for a new device of theirs (once: the code is then used up)."""
    return send.with_credentials(body, Session.of)


@router.post(
    "/approve/begin", operation_id="beginDeviceApproval", response_model=DeviceApprovalCeremony
)
def begin_device_approval(
    body: UserCodeIn, caller: CurrentCaller, services: ServicesDep
) -> DeviceApprovalCeremony:
    """Start approving a user code: what asks to sign in, and a passkey challenge bound to
    that code. Records nothing."""
    start, grant = device.begin_device_approval(body.user_code, caller, services.identity)
    return DeviceApprovalCeremony(
        ceremony_id=start.ceremony_id,
        options=start.options,
        user_code=grant.user_code,
        client_name=grant.client_name,
        scopes=list(grant.scopes),
        expires_at=grant.expires_at,
    )


@router.post(
    "/approve",
    operation_id="approveDeviceCode",
    status_code=202,
    response_model=DeviceCodeAccepted,
)
def approve_device_code(body: ApproveDeviceCode, send: Send) -> JSONResponse:
    """Approve with the passkey assertion: the device's next poll gets its session. A code
    approved or denied already is 409 `device_code_decided`."""
    return send.accepted(body)


@router.post(
    "/deny", operation_id="denyDeviceCode", status_code=202, response_model=DeviceCodeAccepted
)
def deny_device_code(body: DenyDeviceCode, send: Send) -> JSONResponse:
    """Deny: the device's next poll gets `access_denied`."""
    return send.accepted(body)
