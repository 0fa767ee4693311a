"""Index aggregates that make identity lookups and uniqueness part of the event store.

A passkey credential id may be registered once, ever, across every tenant: its index aggregate
has an id derived from the credential id, so a second registration collides at version 1 in
the store (IntegrityError -> 409). Login looks the credential up the same way, without a
read model that could lag behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidTransition


class PasskeyCredential(Aggregate):
    @staticmethod
    def create_id(credential_id: str, **_: object) -> UUID:
        return uuid5(NAMESPACE_URL, f"cairn:passkey:{credential_id}")

    @event("PasskeyCredentialClaimed")
    def __init__(self, credential_id: str, tenant_id: UUID, user_id: UUID) -> None:
        self.credential_id = credential_id
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.released = False

    def release(self) -> None:
        if self.released:
            raise InvalidTransition("this passkey was already removed")
        self._released()

    @event("PasskeyCredentialReleased")
    def _released(self) -> None:
        self.released = True


class SecurityEvent(Aggregate):
    """One authentication or authorisation fact (login, failure, step-up, revocation).

    Each is its own small aggregate: logins of one person may happen at once from several
    devices, and must never conflict with each other or with changes to the user.
    """

    if TYPE_CHECKING:  # made by the @event decorators below, named for type checkers
        SecurityEventRecorded: ClassVar[type[Aggregate.Event]]

    @event("SecurityEventRecorded")
    def __init__(
        self,
        kind: str,
        tenant_id: UUID | None,
        user_id: UUID | None,
        device_id: str | None,
        outcome: str,
        details: dict[str, object],
    ) -> None:
        self.kind = kind
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.device_id = device_id
        self.outcome = outcome
        self.details = details


class InvitationIndex(Aggregate):
    """Finds the tenant of an invitation from the hash of its token alone."""

    @staticmethod
    def create_id(invitation_id: str, **_: object) -> UUID:
        return uuid5(NAMESPACE_URL, f"cairn:invitation:{invitation_id}")

    @event("InvitationIndexed")
    def __init__(self, invitation_id: str, tenant_id: UUID) -> None:
        self.invitation_id = invitation_id
        self.tenant_id = tenant_id
