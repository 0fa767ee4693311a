"""The sync client's calls by name: each builds a `Call` (calls.py) and sends it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from clients.sdk import calls
from clients.sdk import models as m
from clients.sdk.passkeys import Authenticator

T = TypeVar("T")


class Endpoints:
    """Every API operation as a method; `Cairn` supplies `call`."""

    def call(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    # ---- identity ------------------------------------------------------------------------

    def sign_up(
        self,
        authenticator: Authenticator,
        *,
        tenant_slug: str,
        tenant_name: str,
        display_name: str,
        email: str,
        device_name: str = "unnamed device",
    ) -> m.Session:
        """Create a household and its first person with a new passkey; signs this client in."""
        begun = self.call(calls.begin_sign_up(tenant_slug, tenant_name, display_name, email))
        body = {
            "tenant_slug": tenant_slug,
            "tenant_name": tenant_name,
            "display_name": display_name,
            "email": email,
            "ceremony_id": begun.ceremony_id,
            "credential": authenticator.create(begun.options),
            "device_name": device_name,
        }
        return self.call(calls.finish_sign_up(body, None))

    def accept_invitation(
        self,
        authenticator: Authenticator,
        invitation_token: str,
        display_name: str,
        device_name: str = "unnamed device",
    ) -> m.Session:
        begun = self.call(calls.begin_accept_invitation(invitation_token, display_name))
        body = {
            "invitation_token": invitation_token,
            "display_name": display_name,
            "ceremony_id": begun.ceremony_id,
            "credential": authenticator.create(begun.options),
            "device_name": device_name,
        }
        return self.call(calls.finish_accept_invitation(body, None))

    def log_in(
        self,
        authenticator: Authenticator,
        *,
        device_name: str = "unnamed device",
        device_id: str | None = None,
        totp_code: str | None = None,
    ) -> m.Session:
        begun = self.call(calls.begin_login())
        body: dict[str, Any] = {
            "ceremony_id": begun.ceremony_id,
            "credential": authenticator.get(begun.options),
            "device_name": device_name,
        }
        if device_id is not None:
            body["device_id"] = device_id
        if totp_code is not None:
            body["totp_code"] = totp_code
        return self.call(calls.finish_login(body, None))

    def step_up(self, authenticator: Authenticator) -> m.AccessToken:
        """A fresh passkey assertion; the client then holds a freshly authenticated token."""
        begun = self.call(calls.begin_step_up())
        credential = authenticator.get(begun.options)
        return self.call(calls.finish_step_up(begun.ceremony_id, credential, None))

    def log_out(self) -> m.LoggedOut:
        return self.call(calls.logout(None))

    def me(self) -> dict[str, Any]:
        return self.call(calls.me())

    def user(self, user_id: str) -> dict[str, Any]:
        return self.call(calls.get_user(user_id))

    def invite(
        self, email: str, capabilities: list[str] | None = None, valid_for_hours: int = 72
    ) -> m.Invitation:
        return self.call(calls.invite(email, capabilities or [], valid_for_hours, None))

    def revoke_device(self, device_id: str) -> m.Accepted:
        return self.call(calls.revoke_device(device_id, None))

    def add_passkey(self, authenticator: Authenticator, name: str = "passkey") -> m.Accepted:
        begun = self.call(calls.begin_add_passkey())
        credential = authenticator.create(begun.options)
        return self.call(calls.finish_add_passkey(begun.ceremony_id, credential, name, None))

    def remove_passkey(self, credential_id: str) -> m.Accepted:
        return self.call(calls.remove_passkey(credential_id, None))

    def grant_capability(self, user_id: str, capability: str) -> m.Accepted:
        return self.call(calls.grant_capability(user_id, capability, None))

    def revoke_capability(self, user_id: str, capability: str) -> m.Accepted:
        return self.call(calls.revoke_capability(user_id, capability, None))

    def erase_user(self, user_id: str) -> m.Accepted:
        return self.call(calls.erase_user(user_id, None))

    def users(self, *, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        return self.call(calls.list_users(cursor, limit))

    def security_events(
        self, *, cursor: str | None = None, limit: int = 50, user_id: str | None = None
    ) -> dict[str, Any]:
        return self.call(calls.list_security_events(cursor, limit, user_id))

    # ---- runs ----------------------------------------------------------------------------

    def submit_intent(
        self, text: str, *, channel: str = "app", idempotency_key: str | None = None
    ) -> m.RunAccepted:
        return self.call(calls.submit_intent(text, channel, idempotency_key))

    def runs(
        self, *, status: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> m.RunsPage:
        return self.call(calls.list_runs(status, cursor, limit))

    def approvals(self, *, cursor: str | None = None, limit: int = 50) -> m.RunsPage:
        return self.call(calls.list_approvals(cursor, limit))

    def run(self, run_id: str, *, after: int | None = None) -> m.Run:
        return self.call(calls.get_run(run_id, after))

    def cancel_run(self, run_id: str) -> m.RunAccepted:
        return self.call(calls.cancel_run(run_id, None))

    def approve(self, run_id: str, authenticator: Authenticator) -> m.RunAccepted:
        """Approve an escalated run with a passkey assertion bound to its exact plan."""
        begun = self.call(calls.begin_approval(run_id))
        credential = authenticator.get(begun.options)
        return self.call(calls.approve(run_id, begun.ceremony_id, credential, None))

    def deny(self, run_id: str, reason: str = "denied by the person") -> m.RunAccepted:
        return self.call(calls.deny(run_id, reason, None))

    def policies(self) -> m.Policies:
        return self.call(calls.get_policies())

    def put_policies(self, text: str) -> m.PoliciesChanged:
        return self.call(calls.put_policies(text, None))

    def evaluate_policies(self, plan: Mapping[str, Any]) -> m.PolicyDecision:
        return self.call(calls.evaluate_policies(dict(plan)))

    def set_provider_key(self, provider: str, api_key: str, **options: Any) -> m.ProviderKeySet:
        body = {"provider": provider, "api_key": api_key, **options}
        return self.call(calls.set_provider_key(body, None))

    def provider_keys(self) -> m.Providers:
        return self.call(calls.list_provider_keys())

    # ---- audit ---------------------------------------------------------------------------

    def audit_events(
        self, *, after: int = 0, limit: int = 100, **filters: Any
    ) -> m.AuditEventsPage:
        return self.call(calls.audit_events(after, limit, filters))

    def audit_export(self, *, page_size: int = 1000, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every matching event in stream order, page after page (for NDJSON export)."""
        after = 0
        while True:
            page = self.audit_events(after=after, limit=page_size, **filters)
            yield from page.events
            if page.next_after is None:
                return
            after = page.next_after
