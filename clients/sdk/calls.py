"""Every request the SDK can send, described once as data (`Call`, call.py) and sent by
either client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clients.sdk import models as m
from clients.sdk.call import Call, command_call, dict_of, model_of, query, segment

__all__ = ["Call"]


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
    return Call("POST", "/v1/signup/begin", model_of(m.Ceremony), body, safe=True, signed_in=False)


def finish_sign_up(body: dict[str, Any], key: str | None) -> Call[m.Session]:
    return Call(
        "POST", "/v1/signup/finish", model_of(m.Session), body, command=True,
        idempotency_key=key, signed_in=False, grant="session",
    )  # fmt: skip


def begin_accept_invitation(invitation_token: str, display_name: str) -> Call[m.Ceremony]:
    body = {"invitation_token": invitation_token, "display_name": display_name}
    return Call(
        "POST", "/v1/invitations/accept/begin", model_of(m.Ceremony), body, safe=True,
        signed_in=False,
    )  # fmt: skip


def finish_accept_invitation(body: dict[str, Any], key: str | None) -> Call[m.Session]:
    return Call(
        "POST", "/v1/invitations/accept/finish", model_of(m.Session), body, command=True,
        idempotency_key=key, signed_in=False, grant="session",
    )  # fmt: skip


def begin_login() -> Call[m.Ceremony]:
    return Call("POST", "/v1/auth/login/begin", model_of(m.Ceremony), safe=True, signed_in=False)


def finish_login(body: dict[str, Any], key: str | None) -> Call[m.Session]:
    return Call(
        "POST", "/v1/auth/login/finish", model_of(m.Session), body, command=True,
        idempotency_key=key, signed_in=False, grant="session",
    )  # fmt: skip


def refresh(refresh_token: str) -> Call[m.TokenPair]:
    return Call(
        "POST", "/v1/auth/refresh", model_of(m.TokenPair), {"refresh_token": refresh_token},
        command=True, signed_in=False, grant="pair",
    )  # fmt: skip


def request_device_authorization(client_name: str, scope: str = "") -> Call[m.DeviceAuthorization]:
    body = {"client_name": client_name, "scope": scope}
    return Call(
        "POST", "/v1/device/authorize", model_of(m.DeviceAuthorization), body, safe=True,
        signed_in=False,
    )  # fmt: skip


def redeem_device_code(device_code: str, device_name: str) -> Call[m.Session]:
    body = {"device_code": device_code, "device_name": device_name}
    return Call(
        "POST", "/v1/device/token", model_of(m.Session), body, command=True, signed_in=False,
        grant="session",
    )  # fmt: skip


def begin_device_approval(user_code: str) -> Call[m.DeviceApprovalCeremony]:
    body = {"user_code": user_code}
    return Call(
        "POST", "/v1/device/approve/begin", model_of(m.DeviceApprovalCeremony), body, safe=True
    )


def approve_device_code(
    user_code: str, ceremony_id: str, credential: dict[str, Any], key: str | None
) -> Call[m.DeviceCodeAccepted]:
    body = {"user_code": user_code, "ceremony_id": ceremony_id, "credential": credential}
    return command_call("/v1/device/approve", model_of(m.DeviceCodeAccepted), body, key=key)


def deny_device_code(user_code: str, key: str | None) -> Call[m.DeviceCodeAccepted]:
    body = {"user_code": user_code}
    return command_call("/v1/device/deny", model_of(m.DeviceCodeAccepted), body, key=key)


def begin_step_up() -> Call[m.Ceremony]:
    return Call("POST", "/v1/auth/step-up/begin", model_of(m.Ceremony), safe=True)


def finish_step_up(
    ceremony_id: str, credential: dict[str, Any], key: str | None
) -> Call[m.AccessToken]:
    body = {"ceremony_id": ceremony_id, "credential": credential}
    return Call(
        "POST", "/v1/auth/step-up/finish", model_of(m.AccessToken), body, command=True,
        idempotency_key=key, grant="access",
    )  # fmt: skip


def logout(key: str | None) -> Call[m.LoggedOut]:
    return command_call("/v1/auth/logout", model_of(m.LoggedOut), key=key)


def me() -> Call[dict[str, Any]]:
    return Call("GET", "/v1/me", dict_of, safe=True)


def get_user(user_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"/v1/users/{segment(user_id)}", dict_of, safe=True)


def invite(
    email: str, capabilities: list[str], valid_for_hours: int, key: str | None
) -> Call[m.Invitation]:
    body = {"email": email, "capabilities": capabilities, "valid_for_hours": valid_for_hours}
    return command_call("/v1/invitations", model_of(m.Invitation), body, key=key)


def revoke_device(device_id: str, key: str | None) -> Call[m.Accepted]:
    return command_call(f"/v1/devices/{segment(device_id)}/revoke", model_of(m.Accepted), key=key)


def begin_add_passkey() -> Call[m.Ceremony]:
    return Call("POST", "/v1/passkeys/begin", model_of(m.Ceremony), safe=True)


def finish_add_passkey(
    ceremony_id: str, credential: dict[str, Any], name: str, key: str | None
) -> Call[m.Accepted]:
    body = {"ceremony_id": ceremony_id, "credential": credential, "name": name}
    return command_call("/v1/passkeys/finish", model_of(m.Accepted), body, key=key)


def remove_passkey(credential_id: str, key: str | None) -> Call[m.Accepted]:
    path = f"/v1/passkeys/{segment(credential_id)}"
    return command_call(path, model_of(m.Accepted), key=key, method="DELETE")


def grant_capability(user_id: str, capability: str, key: str | None) -> Call[m.Accepted]:
    path = f"/v1/users/{segment(user_id)}/capabilities"
    return command_call(path, model_of(m.Accepted), {"capability": capability}, key=key)


def revoke_capability(user_id: str, capability: str, key: str | None) -> Call[m.Accepted]:
    path = f"/v1/users/{segment(user_id)}/capabilities/{segment(capability)}"
    return command_call(path, model_of(m.Accepted), key=key, method="DELETE")


def erase_user(user_id: str, key: str | None) -> Call[m.Accepted]:
    return command_call(f"/v1/users/{segment(user_id)}/erase", model_of(m.Accepted), key=key)


def list_users(cursor: str | None, limit: int) -> Call[dict[str, Any]]:
    params = query(cursor=cursor, limit=limit)
    return Call("GET", "/v1/users", dict_of, params=params, safe=True, consistent=True)


def list_security_events(
    cursor: str | None, limit: int, user_id: str | None
) -> Call[dict[str, Any]]:
    params = query(cursor=cursor, limit=limit, user_id=user_id)
    return Call("GET", "/v1/security-events", dict_of, params=params, safe=True, consistent=True)


# ---- runs, approvals, policies, provider keys ----------------------------------------------


def submit_intent(text: str, channel: str, key: str | None) -> Call[m.RunAccepted]:
    body = {"text": text, "channel": channel}
    return command_call("/v1/intents", model_of(m.RunAccepted), body, key=key)


def list_runs(status: str | None, cursor: str | None, limit: int) -> Call[m.RunsPage]:
    params = query(status=status, cursor=cursor, limit=limit)
    return Call("GET", "/v1/runs", model_of(m.RunsPage), params=params, safe=True, consistent=True)


def list_approvals(cursor: str | None, limit: int) -> Call[m.RunsPage]:
    params = query(cursor=cursor, limit=limit)
    return Call(
        "GET", "/v1/approvals", model_of(m.RunsPage), params=params, safe=True, consistent=True
    )


def get_run(run_id: str, after: int | None) -> Call[m.Run]:
    path = f"/v1/runs/{segment(run_id)}"
    return Call("GET", path, model_of(m.Run), params=query(after=after), safe=True, consistent=True)


def cancel_run(run_id: str, key: str | None) -> Call[m.RunAccepted]:
    return command_call(f"/v1/runs/{segment(run_id)}/cancel", model_of(m.RunAccepted), key=key)


def begin_approval(run_id: str) -> Call[m.Ceremony]:
    path = f"/v1/approvals/{segment(run_id)}/approve/begin"
    return Call("POST", path, model_of(m.Ceremony), safe=True)


def approve(
    run_id: str, ceremony_id: str, credential: dict[str, Any], key: str | None
) -> Call[m.RunAccepted]:
    body = {"ceremony_id": ceremony_id, "credential": credential}
    return command_call(
        f"/v1/approvals/{segment(run_id)}/approve", model_of(m.RunAccepted), body, key=key
    )


def deny(run_id: str, reason: str, key: str | None) -> Call[m.RunAccepted]:
    path = f"/v1/approvals/{segment(run_id)}/deny"
    return command_call(path, model_of(m.RunAccepted), {"reason": reason}, key=key)


def get_policies() -> Call[m.Policies]:
    return Call("GET", "/v1/policies", model_of(m.Policies), safe=True)


def put_policies(text: str, key: str | None) -> Call[m.PoliciesChanged]:
    body = {"text": text}
    return command_call("/v1/policies", model_of(m.PoliciesChanged), body, key=key, method="PUT")


def evaluate_policies(plan: dict[str, Any]) -> Call[m.PolicyDecision]:
    body = {"plan": plan}
    return Call("POST", "/v1/policies/evaluate", model_of(m.PolicyDecision), body, safe=True)


def set_provider_key(body: dict[str, Any], key: str | None) -> Call[m.ProviderKeySet]:
    return command_call("/v1/provider-keys", model_of(m.ProviderKeySet), body, key=key)


def list_provider_keys() -> Call[m.Providers]:
    return Call("GET", "/v1/provider-keys", model_of(m.Providers), safe=True)


def audit_events(after: int, limit: int, filters: Mapping[str, Any]) -> Call[m.AuditEventsPage]:
    params = query(after=after, limit=limit, **filters)
    return Call("GET", "/v1/audit/events", model_of(m.AuditEventsPage), params=params, safe=True)
