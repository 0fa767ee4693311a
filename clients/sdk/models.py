"""Requests and answers of Cairn's HTTP API, mirrored from its JSON (the SDK imports nothing
from the server: the contract is the HTTP API). Answers accept fields they do not know yet,
so a newer server does not break an older client."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BEARER = "Bearer"  # the OAuth token type name, not a secret


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---- commands' answers ---------------------------------------------------------------------


class Accepted(ApiModel):
    """A command's answer (202): the ids it touched and the position of its last event."""

    position: int | None = None


class RunAccepted(Accepted):
    run_id: str


class PoliciesChanged(Accepted):
    policy_version: str


class ProviderKeySet(Accepted):
    provider: str


class LoggedOut(Accepted):
    session_id: str


# ---- identity ------------------------------------------------------------------------------


class Ceremony(ApiModel):
    """Passkey options for navigator.credentials.create()/get() and the ceremony to finish."""

    ceremony_id: str
    options: dict[str, Any]


class Session(ApiModel):
    tenant_id: str
    user_id: str
    device_id: str
    session_id: str
    access_token: str
    refresh_token: str
    token_type: str = BEARER
    position: int | None = None


class TokenPair(ApiModel):
    access_token: str
    refresh_token: str
    session_id: str
    token_type: str = BEARER


class AccessToken(ApiModel):
    access_token: str
    token_type: str = BEARER


class Invitation(ApiModel):
    invitation_id: str
    invitation_token: str
    position: int | None = None


class DeviceAuthorization(ApiModel):
    """RFC 8628 §3.2: show `user_code` and `verification_uri` to the person; poll with
    `device_code` every `interval` seconds for at most `expires_in`."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceApprovalCeremony(Ceremony):
    """The passkey ceremony approving a device's user code, and what asks to sign in."""

    user_code: str
    client_name: str
    scopes: list[str] = Field(default_factory=list)
    expires_at: str


class DeviceCodeAccepted(Accepted):
    user_code: str


class Providers(ApiModel):
    providers: list[str]


# ---- runs ----------------------------------------------------------------------------------


class TimelineEntry(ApiModel):
    type: str
    version: int
    at: str


class Run(ApiModel):
    """A run as the runs view has it: plan, decision, steps and timeline."""

    run_id: str
    status: str
    text: str
    channel: str
    plan: dict[str, Any] | None = None
    plan_hash: str | None = None
    decision: dict[str, Any] | None = None
    steps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    failure: str | None = None
    escalation_expires_at: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    position: int | None = None


class RunsPage(ApiModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None
    position: int | None = None


class Policies(ApiModel):
    text: str
    version: str
    is_default: bool


class PolicyDecision(ApiModel):
    """A dry run's answer: outcome (APPROVE, ESCALATE, DENY), the policies that decided, and
    every input."""

    outcome: str


# ---- audit and push ------------------------------------------------------------------------


class AuditEventsPage(ApiModel):
    events: list[dict[str, Any]]
    next_after: int | None = None
    examined_to: int


class PushEvent(ApiModel):
    """One stored event, as the push stream and the audit route send it (docs/push.md)."""

    type: Literal["event"] = "event"
    position: int
    event: str
    topic: str = ""
    tenant: str = ""
    aggregate_type: str = ""
    aggregate_id: str = ""
    version: int = 0
    recorded_at: str = ""
    correlation_id: str | None = None
    state: dict[str, Any] | None = None


class StreamControl(ApiModel):
    """`ready` (caught up, live from here), `resync_required` or `closed` (with `error`)."""

    type: str
    position: int | None = None
    error: dict[str, Any] | None = None


StreamItem = PushEvent | StreamControl
