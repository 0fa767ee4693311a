"""Sign-up, invitations, passkey login, refresh, step-up and logout."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import Claims, ClientAddress, CurrentCaller, Identity, ServicesDep
from commands.identity import enrolment, login
from commands.identity.models import (
    BeginAcceptInvitation,
    BeginSignUp,
    FinishAcceptInvitation,
    FinishLogin,
    FinishSignUp,
    FinishStepUp,
    InviteUser,
    RefreshSession,
)
from commands.ports.passkeys import CeremonyStart

router = APIRouter(prefix="/v1", tags=["identity"])
AUTH = "auth"
BEARER: Literal["Bearer"] = "Bearer"  # the OAuth token type name, not a secret


class Ceremony(BaseModel):
    """Pass `options` to navigator.credentials.create()/get(); send back `ceremony_id`."""

    ceremony_id: str
    options: dict[str, Any]

    @classmethod
    def of(cls, start: CeremonyStart) -> Ceremony:
        return cls(ceremony_id=start.ceremony_id, options=start.options)


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
    def of(cls, opened: enrolment.SessionOpened) -> Session:
        return cls(
            tenant_id=str(opened.tenant_id),
            user_id=str(opened.user_id),
            device_id=opened.device_id,
            session_id=opened.tokens.session_id,
            access_token=opened.tokens.access_token,
            refresh_token=opened.tokens.refresh_token,
            position=opened.position,
        )


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    session_id: str
    token_type: Literal["Bearer"] = BEARER


class AccessTokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = BEARER


class Invitation(BaseModel):
    invitation_id: str
    invitation_token: str
    position: int | None


def _limit(services: ServicesDep, address: str) -> None:
    services.rate_limiter.enforce(AUTH, "anonymous", address)


@router.post("/signup/begin", operation_id="beginSignUp", response_model=Ceremony)
def begin_sign_up(body: BeginSignUp, services: ServicesDep, address: ClientAddress) -> Ceremony:
    """Start creating a tenant and its first admin: returns passkey registration options."""
    _limit(services, address)
    return Ceremony.of(enrolment.begin_sign_up(body, services.identity))


@router.post("/signup/finish", operation_id="finishSignUp", response_model=Session, status_code=201)
def finish_sign_up(body: FinishSignUp, services: ServicesDep, address: ClientAddress) -> Session:
    """Verify the new passkey, create the tenant, the admin and their device; sign in."""
    _limit(services, address)
    return Session.of(enrolment.finish_sign_up(body, services.identity))


@router.post("/invitations", operation_id="inviteUser", response_model=Invitation, status_code=201)
def invite_user(body: InviteUser, caller: CurrentCaller, identity: Identity) -> Invitation:
    """Invite a person into the caller's tenant (needs `tenant.admin`). The token is shown
    once; only its hash is stored."""
    result, token = enrolment.invite_user(body, caller, identity)
    return Invitation(
        invitation_id=result.ids["invitation_id"], invitation_token=token, position=result.position
    )


@router.post(
    "/invitations/accept/begin", operation_id="beginAcceptInvitation", response_model=Ceremony
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
)
def finish_accept_invitation(
    body: FinishAcceptInvitation, services: ServicesDep, address: ClientAddress
) -> Session:
    """Verify the passkey, create the user with the invited capabilities; sign in."""
    _limit(services, address)
    return Session.of(enrolment.finish_accept_invitation(body, services.identity))


@router.post("/auth/login/begin", operation_id="beginLogin", response_model=Ceremony)
def begin_login(services: ServicesDep, address: ClientAddress) -> Ceremony:
    """Start a passkey login (discoverable credential: no user name needed)."""
    _limit(services, address)
    return Ceremony.of(login.begin_login(services.identity, address))


@router.post("/auth/login/finish", operation_id="finishLogin", response_model=Session)
def finish_login(body: FinishLogin, services: ServicesDep, address: ClientAddress) -> Session:
    """Verify the assertion (and TOTP code, if the account has one); open a session bound
    to the device (a new device is registered when `device_id` is unknown)."""
    _limit(services, address)
    return Session.of(login.finish_login(body, services.identity, address))


@router.post("/auth/refresh", operation_id="refreshSession", response_model=TokenPairOut)
def refresh(body: RefreshSession, services: ServicesDep, address: ClientAddress) -> TokenPairOut:
    """Rotate a refresh token. Presenting a used one ends every session of its family."""
    _limit(services, address)
    pair = login.refresh_session(body, services.identity)
    return TokenPairOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, session_id=pair.session_id
    )


@router.post("/auth/step-up/begin", operation_id="beginStepUp", response_model=Ceremony)
def begin_step_up(caller: CurrentCaller, identity: Identity) -> Ceremony:
    """Start a fresh passkey assertion, needed before sensitive account changes."""
    return Ceremony.of(login.begin_step_up(caller, identity))


@router.post("/auth/step-up/finish", operation_id="finishStepUp", response_model=AccessTokenOut)
def finish_step_up(
    body: FinishStepUp, caller: CurrentCaller, claims: Claims, identity: Identity
) -> AccessTokenOut:
    """Verify the assertion; returns an access token that counts as freshly authenticated."""
    return AccessTokenOut(access_token=login.finish_step_up(body, caller, claims, identity))


@router.post("/auth/logout", operation_id="logout", status_code=204)
def logout(caller: CurrentCaller, identity: Identity) -> None:
    """End this session."""
    assert caller.session_id is not None
    identity.sessions.revoke_session(str(caller.tenant_id), caller.session_id, "logout")
    identity.record_security_event(
        "logout", "succeeded", tenant_id=caller.tenant_id, device_id=caller.device_id
    )
