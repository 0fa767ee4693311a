"""Every request the SDK can send, described once as data (`Call`) and sent by either client.

A `Call` says what to send and how to read the answer; the sync and async clients
(client.py, aclient.py) differ only in how they wait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from clients.sdk import models as m

T = TypeVar("T")
Grant = Literal["session", "pair", "access"]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)
    # A command: sent with an Idempotency-Key (this one, or a fresh one), so it is retried.
    command: bool = False
    idempotency_key: str | None = None
    # Sending it again changes nothing (a query, a ceremony's start, a dry run).
    safe: bool = False
    signed_in: bool = True
    # A query of a view that takes `?after=`: read-your-writes.
    consistent: bool = False
    # The answer holds tokens the client then uses.
    grant: Grant | None = None


M = TypeVar("M", bound=BaseModel)


def _model(cls: type[M]) -> Callable[[Any], M]:
    return cls.model_validate


def _dict(body: Any) -> dict[str, Any]:
    return dict(body)


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _query(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _command(
    path: str, parse: Callable[[Any], T], body: Any = None, *, key: str | None, method: str = "POST"
) -> Call[T]:
    return Call(method, path, parse, json=body, command=True, idempotency_key=key)


# ---- identity ------------------------------------------------------------------------------


def begin_sign_up(
    tenant_slug: str, tenant_name: str, display_name: str, email: str
) -> Call[m.Ceremony]:
    body = {
        "tenant_slug": tenant_slug,
        "tenant_name": tenant_name,
        "display_name": display_name,
        "email": email,
    }
    return Call("POST", "/v1/signup/begin", _model(m.Ceremony), body, safe=True, signed_in=False)


def finish_sign_up(body: dict[str, Any], key: str | None) -> Call[m.Session]:
    return Call(
        "POST", "/v1/signup/finish", _model(m.Session), body, command=True,
        idempotency_key=key, signed_in=False, grant="session",
    )  # fmt: skip


def begin_accept_invitation(invitation_token: str, display_name: str) -> Call[m.Ceremony]:
    body = {"invitation_token": invitation_token, "display_name": display_name}
    return Call(
        "POST", "/v1/invitations/accept/begin", _model(m.Ceremony), body, safe=True,
        signed_in=False,
    )  # fmt: skip


def finish_accept_invitation(body: dict[str, Any], key: str | None) -> Call[m.Session]:
    return Call(
        "POST", "/v1/invitations/accept/finish", _model(m.Session), body, command=True,
        idempotency_key=key, signed_in=False, grant="session",
    )  # fmt: skip


def begin_login() -> Call[m.Ceremony]:
    return Call("POST", "/v1/auth/login/begin", _model(m.Ceremony), safe=True, signed_in=False)


def finish_login(body: dict[str, Any], key: str | None) -> Call[m.Session]:
    return Call(
        "POST", "/v1/auth/login/finish", _model(m.Session), body, command=True,
        idempotency_key=key, signed_in=False, grant="session",
    )  # fmt: skip


def refresh(refresh_token: str) -> Call[m.TokenPair]:
    return Call(
        "POST", "/v1/auth/refresh", _model(m.TokenPair), {"refresh_token": refresh_token},
        command=True, signed_in=False, grant="pair",
    )  # fmt: skip


def request_device_authorization(client_name: str) -> Call[m.DeviceAuthorization]:
    body = {"client_name": client_name}
    return Call(
        "POST", "/v1/device/authorize", _model(m.DeviceAuthorization), body, safe=True,
        signed_in=False,
    )  # fmt: skip


def redeem_device_code(device_code: str, device_name: str) -> Call[m.Session]:
    body = {"device_code": device_code, "device_name": device_name}
    return Call(
        "POST", "/v1/device/token", _model(m.Session), body, command=True, signed_in=False,
        grant="session",
    )  # fmt: skip


def begin_device_approval(user_code: str) -> Call[m.DeviceApprovalCeremony]:
    body = {"user_code": user_code}
    return Call(
        "POST", "/v1/device/approve/begin", _model(m.DeviceApprovalCeremony), body, safe=True
    )


def approve_device_code(
    user_code: str, ceremony_id: str, credential: dict[str, Any], key: str | None
) -> Call[m.DeviceCodeAccepted]:
    body = {"user_code": user_code, "ceremony_id": ceremony_id, "credential": credential}
    return _command("/v1/device/approve", _model(m.DeviceCodeAccepted), body, key=key)


def deny_device_code(user_code: str, key: str | None) -> Call[m.DeviceCodeAccepted]:
    body = {"user_code": user_code}
    return _command("/v1/device/deny", _model(m.DeviceCodeAccepted), body, key=key)


def begin_step_up() -> Call[m.Ceremony]:
    return Call("POST", "/v1/auth/step-up/begin", _model(m.Ceremony), safe=True)


def finish_step_up(
    ceremony_id: str, credential: dict[str, Any], key: str | None
) -> Call[m.AccessToken]:
    body = {"ceremony_id": ceremony_id, "credential": credential}
    return Call(
        "POST", "/v1/auth/step-up/finish", _model(m.AccessToken), body, command=True,
        idempotency_key=key, grant="access",
    )  # fmt: skip


def logout(key: str | None) -> Call[m.LoggedOut]:
    return _command("/v1/auth/logout", _model(m.LoggedOut), key=key)


def me() -> Call[dict[str, Any]]:
    return Call("GET", "/v1/me", _dict, safe=True)


def get_user(user_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"/v1/users/{_seg(user_id)}", _dict, safe=True)


def invite(
    email: str, capabilities: list[str], valid_for_hours: int, key: str | None
) -> Call[m.Invitation]:
    body = {"email": email, "capabilities": capabilities, "valid_for_hours": valid_for_hours}
    return _command("/v1/invitations", _model(m.Invitation), body, key=key)


def revoke_device(device_id: str, key: str | None) -> Call[m.Accepted]:
    return _command(f"/v1/devices/{_seg(device_id)}/revoke", _model(m.Accepted), key=key)


def begin_add_passkey() -> Call[m.Ceremony]:
    return Call("POST", "/v1/passkeys/begin", _model(m.Ceremony), safe=True)


def finish_add_passkey(
    ceremony_id: str, credential: dict[str, Any], name: str, key: str | None
) -> Call[m.Accepted]:
    body = {"ceremony_id": ceremony_id, "credential": credential, "name": name}
    return _command("/v1/passkeys/finish", _model(m.Accepted), body, key=key)


def remove_passkey(credential_id: str, key: str | None) -> Call[m.Accepted]:
    path = f"/v1/passkeys/{_seg(credential_id)}"
    return _command(path, _model(m.Accepted), key=key, method="DELETE")


def grant_capability(user_id: str, capability: str, key: str | None) -> Call[m.Accepted]:
    path = f"/v1/users/{_seg(user_id)}/capabilities"
    return _command(path, _model(m.Accepted), {"capability": capability}, key=key)


def revoke_capability(user_id: str, capability: str, key: str | None) -> Call[m.Accepted]:
    path = f"/v1/users/{_seg(user_id)}/capabilities/{_seg(capability)}"
    return _command(path, _model(m.Accepted), key=key, method="DELETE")


def erase_user(user_id: str, key: str | None) -> Call[m.Accepted]:
    return _command(f"/v1/users/{_seg(user_id)}/erase", _model(m.Accepted), key=key)


def list_users(cursor: str | None, limit: int) -> Call[dict[str, Any]]:
    params = _query(cursor=cursor, limit=limit)
    return Call("GET", "/v1/users", _dict, params=params, safe=True, consistent=True)


def list_security_events(
    cursor: str | None, limit: int, user_id: str | None
) -> Call[dict[str, Any]]:
    params = _query(cursor=cursor, limit=limit, user_id=user_id)
    return Call("GET", "/v1/security-events", _dict, params=params, safe=True, consistent=True)


# ---- runs, approvals, policies, provider keys ----------------------------------------------


def submit_intent(text: str, channel: str, key: str | None) -> Call[m.RunAccepted]:
    body = {"text": text, "channel": channel}
    return _command("/v1/intents", _model(m.RunAccepted), body, key=key)


def list_runs(status: str | None, cursor: str | None, limit: int) -> Call[m.RunsPage]:
    params = _query(status=status, cursor=cursor, limit=limit)
    return Call("GET", "/v1/runs", _model(m.RunsPage), params=params, safe=True, consistent=True)


def list_approvals(cursor: str | None, limit: int) -> Call[m.RunsPage]:
    params = _query(cursor=cursor, limit=limit)
    return Call(
        "GET", "/v1/approvals", _model(m.RunsPage), params=params, safe=True, consistent=True
    )


def get_run(run_id: str, after: int | None) -> Call[m.Run]:
    path = f"/v1/runs/{_seg(run_id)}"
    return Call("GET", path, _model(m.Run), params=_query(after=after), safe=True, consistent=True)


def cancel_run(run_id: str, key: str | None) -> Call[m.RunAccepted]:
    return _command(f"/v1/runs/{_seg(run_id)}/cancel", _model(m.RunAccepted), key=key)


def begin_approval(run_id: str) -> Call[m.Ceremony]:
    path = f"/v1/approvals/{_seg(run_id)}/approve/begin"
    return Call("POST", path, _model(m.Ceremony), safe=True)


def approve(
    run_id: str, ceremony_id: str, credential: dict[str, Any], key: str | None
) -> Call[m.RunAccepted]:
    body = {"ceremony_id": ceremony_id, "credential": credential}
    return _command(f"/v1/approvals/{_seg(run_id)}/approve", _model(m.RunAccepted), body, key=key)


def deny(run_id: str, reason: str, key: str | None) -> Call[m.RunAccepted]:
    path = f"/v1/approvals/{_seg(run_id)}/deny"
    return _command(path, _model(m.RunAccepted), {"reason": reason}, key=key)


def get_policies() -> Call[m.Policies]:
    return Call("GET", "/v1/policies", _model(m.Policies), safe=True)


def put_policies(text: str, key: str | None) -> Call[m.PoliciesChanged]:
    body = {"text": text}
    return _command("/v1/policies", _model(m.PoliciesChanged), body, key=key, method="PUT")


def evaluate_policies(plan: dict[str, Any]) -> Call[m.PolicyDecision]:
    body = {"plan": plan}
    return Call("POST", "/v1/policies/evaluate", _model(m.PolicyDecision), body, safe=True)


def set_provider_key(body: dict[str, Any], key: str | None) -> Call[m.ProviderKeySet]:
    return _command("/v1/provider-keys", _model(m.ProviderKeySet), body, key=key)


def list_provider_keys() -> Call[m.Providers]:
    return Call("GET", "/v1/provider-keys", _model(m.Providers), safe=True)


def audit_events(after: int, limit: int, filters: Mapping[str, Any]) -> Call[m.AuditEventsPage]:
    params = _query(after=after, limit=limit, **filters)
    return Call("GET", "/v1/audit/events", _model(m.AuditEventsPage), params=params, safe=True)
