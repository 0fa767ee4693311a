"""Sign-up, invitations, passkey login, refresh, step-up and logout."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import ClientAddress, CurrentCaller, Identity, ServicesDep
from api.dispatch import Send, SendAnonymous
from api.models import Accepted, Ceremony, ErrorResponse
from commands.base import CommandResult
from commands.identity import enrolment, login
from commands.identity.models import (
    BeginAcceptInvitation,
    BeginSignUp,
    FinishAcceptInvitation,
    FinishLogin,
    FinishSignUp,
    FinishStepUp,
    InviteUser,
    LogOut,
    RefreshSession,
)

router = APIRouter(prefix="/v1", tags=["identity"])
AUTH = "auth"
BEARER: Literal["Bearer"] = "Bearer"  # the OAuth token type name, not a secret


class Session(BaseModel):
    tenant_id: str
    user_id: str
    device_id: str
    session_id: str
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = BEARER
    position: int | None = None

    @classmethod
    def of(cls, opened: CommandResult) -> Session:
        return cls.model_validate({**opened.ids, **opened.credentials, "position": opened.position})


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    session_id: str
    token_type: Literal["Bearer"] = BEARER

    @classmethod
    def of(cls, refreshed: CommandResult) -> TokenPairOut:
        return cls.model_validate({**refreshed.ids, **refreshed.credentials})


class AccessTokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = BEARER

    @classmethod
    def of(cls, stepped_up: CommandResult) -> AccessTokenOut:
        return cls.model_validate(stepped_up.credentials)


class Invitation(BaseModel):
    invitation_id: str
    invitation_token: str
    position: int | None

    @classmethod
    def of(cls, invited: CommandResult) -> Invitation:
        return cls(**invited.ids, **invited.credentials, position=invited.position)


class LoggedOut(Accepted):
    session_id: str


# An invitation is named by its token in the body, not by a path id, so its 404 is said here;
# api/contract.py adds the statuses every route like these has.
NO_SUCH_INVITATION: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorResponse,
        "description": "No such invitation (an unknown, used or expired token)",
    }
}


def _limit(services: ServicesDep, address: str) -> None:
    services.rate_limiter.enforce(AUTH, "anonymous", address)


@router.post("/signup/begin", operation_id="beginSignUp", response_model=Ceremony)
def begin_sign_up(body: BeginSignUp, services: ServicesDep, address: ClientAddress) -> Ceremony:
    """Start creating a tenant and its first admin: returns passkey registration options."""
    _limit(services, address)
    return Ceremony.of(enrolment.begin_sign_up(body, services.identity))


@router.post("/signup/finish", operation_id="finishSignUp", response_model=Session, status_code=201)
def finish_sign_up(
    body: FinishSignUp, services: ServicesDep, address: ClientAddress, send: SendAnonymous
) -> JSONResponse:
    """Verify the new passkey, create the tenant, the admin and their device; sign in."""
    _limit(services, address)
    return send.with_credentials(body, Session.of, status=201)


@router.post("/invitations", operation_id="inviteUser", response_model=Invitation, status_code=201)
def invite_user(body: InviteUser, send: Send) -> JSONResponse:
    """Invite a person into the caller's tenant (needs `tenant.admin`). The token is shown
    once; only its hash is stored."""
    return send.with_credentials(body, Invitation.of, status=201)


@router.post(
    "/invitations/accept/begin",
    operation_id="beginAcceptInvitation",
    response_model=Ceremony,
    responses=NO_SUCH_INVITATION,
)
def begin_accept_invitation(
    body: BeginAcceptInvitation, services: ServicesDep, address: ClientAddress
) -> Ceremony:
    """Start accepting an invitation: returns passkey registration options."""
    _limit(services, address)
    return Ceremony.of(enrolment.begin_accept_invitation(body, services.identity))


@router.post(
    "/invitations/accept/finish",
    operation_id="finishAcceptInvitation",
    response_model=Session,
    status_code=201,
    responses=NO_SUCH_INVITATION,
)
def finish_accept_invitation(
    body: FinishAcceptInvitation, services: ServicesDep, address: ClientAddress, send: SendAnonymous
) -> JSONResponse:
    """Verify the passkey, create the user with the invited capabilities; sign in."""
    _limit(services, address)
    return send.with_credentials(body, Session.of, status=201)


@router.post("/auth/login/begin", operation_id="beginLogin", response_model=Ceremony)
def begin_login(services: ServicesDep, address: ClientAddress) -> Ceremony:
    """Start a passkey login (discoverable credential: no user name needed)."""
    _limit(services, address)
    return Ceremony.of(login.begin_login(services.identity, address))


@router.post("/auth/login/finish", operation_id="finishLogin", response_model=Session)
def finish_login(
    body: FinishLogin, services: ServicesDep, address: ClientAddress, send: SendAnonymous
) -> JSONResponse:
    """Verify the assertion (and TOTP code, if the account has one); open a session bound
    to the device (a new device is registered when `device_id` is unknown)."""
    _limit(services, address)
    return send.with_credentials(body, Session.of)


@router.post("/auth/refresh", operation_id="refreshSession", response_model=TokenPairOut)
def refresh(
    body: RefreshSession, services: ServicesDep, address: ClientAddress, send: SendAnonymous
) -> JSONResponse:
    """Rotate a refresh token. Presenting a used one ends every session of its family."""
    _limit(services, address)
    return send.with_credentials(body, TokenPairOut.of)


@router.post("/auth/step-up/begin", operation_id="beginStepUp", response_model=Ceremony)
def begin_step_up(caller: CurrentCaller, identity: Identity) -> Ceremony:
    """Start a fresh passkey assertion, needed before sensitive account changes."""
    return Ceremony.of(login.begin_step_up(caller, identity))


@router.post("/auth/step-up/finish", operation_id="finishStepUp", response_model=AccessTokenOut)
def finish_step_up(body: FinishStepUp, send: Send) -> JSONResponse:
    """Verify the assertion; returns an access token that counts as freshly authenticated."""
    return send.with_credentials(body, AccessTokenOut.of)


@router.post("/auth/logout", operation_id="logout", status_code=202, response_model=LoggedOut)
def logout(send: Send) -> JSONResponse:
    """End this session: its tokens are refused from the next request on."""
    return send.accepted(LogOut())
