"""Account recovery: single-use recovery codes, made while signed in, used without a passkey
to add a new one (decision 0022)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import ClientAddress, CurrentCaller, Identity, ServicesDep
from api.dispatch import Send, SendAnonymous
from api.models import Ceremony, ErrorResponse
from api.routes.identity import AUTH, Session
from commands.base import CommandResult
from commands.identity import recovery
from commands.identity.recovery import BeginRecovery, FinishRecovery, RegenerateRecoveryCodes

router = APIRouter(prefix="/v1", tags=["identity"])

BAD_CODE: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorResponse,
        "description": "`recovery_code_invalid` (unknown or wrong), `recovery_code_used` (each "
        "code works once), `recovery_code_replaced` (a newer set replaced it)",
    },
}


class RecoveryCodesOut(BaseModel):
    """The new codes, shown this once: only their Argon2id hashes are kept."""

    user_id: str
    codes: list[str]
    position: int | None = None

    @classmethod
    def of(cls, made: CommandResult) -> RecoveryCodesOut:
        return cls(
            user_id=made.ids["user_id"],
            codes=made.credentials["codes"].split(),
            position=made.position,
        )


class RecoveryCodesStatus(BaseModel):
    count: int
    remaining: int


@router.get("/recovery-codes", operation_id="getRecoveryCodes", response_model=RecoveryCodesStatus)
def get_recovery_codes(caller: CurrentCaller, identity: Identity) -> RecoveryCodesStatus:
    """How many recovery codes the caller has, and how many are unused (never the codes)."""
    status = recovery.recovery_status(caller.user_id, caller.tenant_id, identity)
    return RecoveryCodesStatus(**status)


@router.post(
    "/recovery-codes",
    operation_id="regenerateRecoveryCodes",
    status_code=201,
    response_model=RecoveryCodesOut,
)
def regenerate_recovery_codes(body: RegenerateRecoveryCodes, send: Send) -> JSONResponse:
    """Ten new recovery codes, shown once; earlier codes stop working. Without `approval`
    it is refused with 403 `step_up_required` carrying WebAuthn options bound to exactly this
    change: sign them and send `approval`. A security event."""
    return send.with_credentials(body, RecoveryCodesOut.of, status=201)


@router.post(
    "/recovery/begin", operation_id="beginRecovery", response_model=Ceremony, responses=BAD_CODE
)
def begin_recovery(body: BeginRecovery, services: ServicesDep, address: ClientAddress) -> Ceremony:
    """Check a recovery code and start making a new passkey for its owner (records nothing;
    the code is used up by `finish`). Wrong codes count as failed logins: 429
    `login_locked` after a few."""
    services.rate_limiter.enforce(AUTH, "anonymous", address)
    return Ceremony.of(recovery.begin_recovery(body, services.identity, address))


@router.post(
    "/recovery/finish",
    operation_id="finishRecovery",
    response_model=Session,
    status_code=201,
    responses=BAD_CODE,
)
def finish_recovery(
    body: FinishRecovery, services: ServicesDep, address: ClientAddress, send: SendAnonymous
) -> JSONResponse:
    """Verify the new passkey, use the code up and sign in on a new device. A security event
    (`recovery_code_used`), pushed to the person's other devices."""
    services.rate_limiter.enforce(AUTH, "anonymous", address)
    return send.with_credentials(body, Session.of, status=201)
