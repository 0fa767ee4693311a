"""What identity handlers receive: the event-sourced application and the ports it acts through."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Recording

from commands.application import CairnApplication
from commands.ports.device_grants import DeviceGrants
from commands.ports.endpoints import EndpointGuard
from commands.ports.passkeys import PasskeyCeremonies
from commands.ports.ratelimit import LoginGuard
from commands.ports.recovery import CodeHasher
from commands.ports.sessions import AccessTokenVerifier, SecondFactor, Sessions
from commands.ports.vault import Vault
from domain.errors import NotFound
from domain.event_context import SYSTEM_CONTEXT, EventContext
from domain.identity.credential import InvitationIndex, PasskeyCredential, SecurityEvent
from domain.identity.tenant import Tenant
from domain.identity.user import User


class IdentityApplication(CairnApplication):
    """Tenants, users, passkey index and security events, stored in the event store."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env=env)
        # Called with the events of each save once they are stored (e.g. to forget cached
        # authentication answers they may change).
        self.on_saved: list[Callable[[Sequence[DomainEventProtocol[UUID]]], None]] = []

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        events = [recording.domain_event for recording in recordings]
        for listener in self.on_saved:
            listener(events)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IdentityPorts:
    app: IdentityApplication
    vault: Vault
    passkeys: PasskeyCeremonies
    sessions: Sessions
    tokens: AccessTokenVerifier
    login_guard: LoginGuard
    totp: SecondFactor
    clock: Callable[[], datetime] = utcnow
    device_grants: DeviceGrants | None = None
    recovery_codes: CodeHasher | None = None
    # Where a model endpoint a person names may point (decision 0023).
    model_endpoints: EndpointGuard | None = None

    def find(self, aggregate_id: UUID) -> object | None:
        try:
            found: object = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found

    def get_user(self, user_id: UUID | str, tenant_id: UUID | None = None) -> User:
        """The user, or NotFound: also when it belongs to another tenant than `tenant_id`."""
        try:
            parsed = UUID(str(user_id))
        except ValueError:
            parsed = None
        user = self.find(parsed) if parsed else None
        if not isinstance(user, User) or (tenant_id is not None and user.tenant_id != tenant_id):
            raise NotFound("no such user", {"user_id": str(user_id)})
        return user

    def get_tenant(self, tenant_id: UUID) -> Tenant:
        tenant = self.find(tenant_id)
        if not isinstance(tenant, Tenant):
            raise NotFound("no such tenant", {"tenant_id": str(tenant_id)})
        return tenant

    def find_credential(self, credential_id: str) -> PasskeyCredential | None:
        index = self.find(PasskeyCredential.create_id(credential_id))
        if not isinstance(index, PasskeyCredential) or index.released:
            return None
        return index

    def invitation_index(self, invitation_id: str) -> UUID | None:
        index = self.find(InvitationIndex.create_id(invitation_id))
        return index.tenant_id if isinstance(index, InvitationIndex) else None

    def record_security_event(
        self,
        kind: str,
        outcome: str,
        *,
        tenant_id: UUID | None = None,
        user_id: UUID | None = None,
        device_id: str | None = None,
        details: dict[str, object] | None = None,
        context: EventContext | None = None,
    ) -> int | None:
        """Record a security fact under the context of what caused it (default: the
        system's), in the tenant it concerns. Never with the command's id: the fact is a save
        of its own, beside the command's."""
        fact = SecurityEvent(kind, tenant_id, user_id, device_id, outcome, details or {})
        base = context or SYSTEM_CONTEXT
        tenant = str(tenant_id) if tenant_id else base.tenant
        return self.app.save_atomically(fact, context=replace(base, tenant=tenant, command_id=None))
