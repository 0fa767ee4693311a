"""Changes that widen what runs without the person, approved with a passkey bound to them.

The construction of plan approvals (decision 0002), applied to a change: the WebAuthn
challenge is `sha256(change) || 16 random bytes`, the ceremony lives in Redis for a few
minutes and is taken at most once. `sha256(change)` is over a canonical description of exactly
that change (what, whose, from which version, to which content), domain-separated from plan
hashes, so an assertion made for one change can approve no other change and no plan, and
not the same change twice. Decision 0015 says which changes need it.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import ConfigDict, Field

from commands.base import Issued
from commands.identity.login import _unb64, passkey_lookup
from domain.errors import Forbidden, NotAuthenticated
from domain.identity.scopes import AUTONOMY_WRITE, require_scope
from domain.storable import StorableModel

if TYPE_CHECKING:
    from commands.dispatch import Ports

_DOMAIN = b"cairn:bound-change:v1\n"


class ChangeApproval(StorableModel):
    """A passkey assertion over the challenge a refused change answered with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ceremony_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]


class ChangeApprovalRequired(Forbidden):
    """403: the change widens what runs without the person; sign `details.options` (its
    challenge starts with `details.change_hash`) and send the same change with `approval`."""

    code = "step_up_required"


def change_hash(kind: str, tenant_id: UUID, subject: str, base: str | None, content: str) -> bytes:
    """The hash a passkey approves: this kind of change, of this tenant's `subject`, from the
    `base` version it was made against, to exactly `content`."""
    described = json.dumps(
        {
            "kind": kind,
            "tenant": str(tenant_id),
            "subject": subject,
            "from": base,
            "to": hashlib.sha256(content.encode()).hexdigest(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(_DOMAIN + described.encode()).digest()


def check_may_change_autonomy(issued: Issued) -> None:
    """The token must carry the scope delegated clients do not get by default."""
    require_scope(issued.access_claims().scopes, AUTONOMY_WRITE)


def approved(
    issued: Issued,
    ports: Ports,
    kind: str,
    digest: bytes,
    approval: ChangeApproval | None,
    *,
    required: bool,
) -> dict[str, Any] | None:
    """The verified approval of the change `digest` (for its event), or None when none was
    required and none was sent. A required approval that is missing starts a ceremony bound to
    the change and refuses with what to sign; one that is sent is always checked, so an
    assertion can never be presented twice."""
    caller = issued.signed_in()
    identity = ports.identity
    if approval is None:
        if not required:
            return None
        user = identity.get_user(caller.user_id, caller.tenant_id)
        start = identity.passkeys.begin_plan_approval(
            caller.user_id, digest, [_unb64(c) for c in user.passkeys]
        )
        _record(issued, ports, kind, "approval_required", digest)
        raise ChangeApprovalRequired(
            "this change widens what runs without you: approve it with a passkey, then send "
            "the same change again with `approval` (the ceremony id and the signed assertion)",
            {
                "change_hash": digest.hex(),
                "challenge": start.options.get("challenge"),
                "ceremony_id": start.ceremony_id,
                "options": start.options,
            },
        )
    try:
        verified = identity.passkeys.finish_plan_approval(
            approval.ceremony_id,
            approval.credential,
            digest,
            passkey_lookup(identity, caller.user_id),
        )
    except NotAuthenticated as exc:
        _record(issued, ports, kind, "refused", digest, {"code": exc.code})
        raise
    return {"change_hash": digest.hex(), **verified.as_event_data()}


def _record(
    issued: Issued,
    ports: Ports,
    kind: str,
    outcome: str,
    digest: bytes,
    more: dict[str, object] | None = None,
) -> None:
    caller = issued.signed_in()
    ports.identity.record_security_event(
        kind,
        outcome,
        tenant_id=caller.tenant_id,
        user_id=UUID(caller.user_id),
        device_id=caller.device_id,
        details={"change_hash": digest.hex(), **(more or {})},
        context=issued.fact_context(),
    )


def record_change(
    issued: Issued, ports: Ports, kind: str, details: dict[str, object]
) -> int | None:
    """The security event of a change made: pushed to the person's other devices like every
    event of the tenant."""
    caller = issued.signed_in()
    return ports.identity.record_security_event(
        kind,
        "succeeded",
        tenant_id=caller.tenant_id,
        user_id=UUID(caller.user_id),
        device_id=caller.device_id,
        details=details,
        context=issued.fact_context(),
    )
