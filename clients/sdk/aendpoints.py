"""The async client's calls by name (the same as endpoints.py, awaited)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from clients.sdk import calls
from clients.sdk import models as m
from clients.sdk.passkeys import Authenticator

T = TypeVar("T")


class AsyncEndpoints:
    """Every API operation as a method; `AsyncCairn` supplies `call`."""

    async def call(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    # ---- identity ------------------------------------------------------------------------

    async def sign_up(
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
        begun = await self.call(calls.begin_sign_up(tenant_slug, tenant_name, display_name, email))
        body = {
            "tenant_slug": tenant_slug,
            "tenant_name": tenant_name,
            "display_name": display_name,
            "email": email,
            "ceremony_id": begun.ceremony_id,
            "credential": authenticator.create(begun.options),
            "device_name": device_name,
        }
        return await self.call(calls.finish_sign_up(body, None))

    async def accept_invitation(
        self,
        authenticator: Authenticator,
        invitation_token: str,
        display_name: str,
        device_name: str = "unnamed device",
    ) -> m.Session:
        begun = await self.call(calls.begin_accept_invitation(invitation_token, display_name))
        body = {
            "invitation_token": invitation_token,
            "display_name": display_name,
            "ceremony_id": begun.ceremony_id,
            "credential": authenticator.create(begun.options),
            "device_name": device_name,
        }
        return await self.call(calls.finish_accept_invitation(body, None))

    async def log_in(
        self,
        authenticator: Authenticator,
        *,
        device_name: str = "unnamed device",
        device_id: str | None = None,
        totp_code: str | None = None,
    ) -> m.Session:
        begun = await self.call(calls.begin_login())
        body: dict[str, Any] = {
            "ceremony_id": begun.ceremony_id,
            "credential": authenticator.get(begun.options),
            "device_name": device_name,
        }
        if device_id is not None:
            body["device_id"] = device_id
        if totp_code is not None:
            body["totp_code"] = totp_code
        return await self.call(calls.finish_login(body, None))

    async def step_up(self, authenticator: Authenticator) -> m.AccessToken:
        """A fresh passkey assertion; the client then holds a freshly authenticated token."""
        begun = await self.call(calls.begin_step_up())
        credential = authenticator.get(begun.options)
        return await self.call(calls.finish_step_up(begun.ceremony_id, credential, None))

    async def log_out(self) -> m.LoggedOut:
        return await self.call(calls.logout(None))

    async def me(self) -> dict[str, Any]:
        return await self.call(calls.me())

    async def user(self, user_id: str) -> dict[str, Any]:
        return await self.call(calls.get_user(user_id))

    async def invite(
        self, email: str, capabilities: list[str] | None = None, valid_for_hours: int = 72
    ) -> m.Invitation:
        return await self.call(calls.invite(email, capabilities or [], valid_for_hours, None))

    async def revoke_device(self, device_id: str) -> m.Accepted:
        return await self.call(calls.revoke_device(device_id, None))

    async def add_passkey(self, authenticator: Authenticator, name: str = "passkey") -> m.Accepted:
        begun = await self.call(calls.begin_add_passkey())
        credential = authenticator.create(begun.options)
        return await self.call(calls.finish_add_passkey(begun.ceremony_id, credential, name, None))

    async def remove_passkey(self, credential_id: str) -> m.Accepted:
        return await self.call(calls.remove_passkey(credential_id, None))

    async def grant_capability(self, user_id: str, capability: str) -> m.Accepted:
        return await self.call(calls.grant_capability(user_id, capability, None))

    async def revoke_capability(self, user_id: str, capability: str) -> m.Accepted:
        return await self.call(calls.revoke_capability(user_id, capability, None))

    async def erase_user(self, user_id: str) -> m.Accepted:
        return await self.call(calls.erase_user(user_id, None))

    async def users(self, *, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        return await self.call(calls.list_users(cursor, limit))

    async def security_events(
        self, *, cursor: str | None = None, limit: int = 50, user_id: str | None = None
    ) -> dict[str, Any]:
        return await self.call(calls.list_security_events(cursor, limit, user_id))

    # ---- runs ----------------------------------------------------------------------------

    async def submit_intent(
        self, text: str, *, channel: str = "app", idempotency_key: str | None = None
    ) -> m.RunAccepted:
        return await self.call(calls.submit_intent(text, channel, idempotency_key))

    async def runs(
        self, *, status: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> m.RunsPage:
        return await self.call(calls.list_runs(status, cursor, limit))

    async def approvals(self, *, cursor: str | None = None, limit: int = 50) -> m.RunsPage:
        return await self.call(calls.list_approvals(cursor, limit))

    async def run(self, run_id: str, *, after: int | None = None) -> m.Run:
        return await self.call(calls.get_run(run_id, after))

    async def cancel_run(self, run_id: str) -> m.RunAccepted:
        return await self.call(calls.cancel_run(run_id, None))

    async def approve(self, run_id: str, authenticator: Authenticator) -> m.RunAccepted:
        """Approve an escalated run with a passkey assertion bound to its exact plan."""
        begun = await self.call(calls.begin_approval(run_id))
        credential = authenticator.get(begun.options)
        return await self.call(calls.approve(run_id, begun.ceremony_id, credential, None))

    async def deny(self, run_id: str, reason: str = "denied by the person") -> m.RunAccepted:
        return await self.call(calls.deny(run_id, reason, None))

    async def policies(self) -> m.Policies:
        return await self.call(calls.get_policies())

    async def put_policies(self, text: str) -> m.PoliciesChanged:
        return await self.call(calls.put_policies(text, None))

    async def evaluate_policies(self, plan: Mapping[str, Any]) -> m.PolicyDecision:
        return await self.call(calls.evaluate_policies(dict(plan)))

    async def set_provider_key(
        self, provider: str, api_key: str, **options: Any
    ) -> m.ProviderKeySet:
        body = {"provider": provider, "api_key": api_key, **options}
        return await self.call(calls.set_provider_key(body, None))

    async def provider_keys(self) -> m.Providers:
        return await self.call(calls.list_provider_keys())

    # ---- audit ---------------------------------------------------------------------------

    async def audit_events(
        self, *, after: int = 0, limit: int = 100, **filters: Any
    ) -> m.AuditEventsPage:
        return await self.call(calls.audit_events(after, limit, filters))

    async def audit_export(
        self, *, page_size: int = 1000, **filters: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching event in stream order, page after page (for NDJSON export)."""
        after = 0
        while True:
            page = await self.audit_events(after=after, limit=page_size, **filters)
            for event in page.events:
                yield event
            if page.next_after is None:
                return
            after = page.next_after
