"""The Tenant aggregate: a household or company, and the invitations of its admins."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput, InvalidTransition, NotFound
from domain.identity.capabilities import Capability

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def check_slug(slug: str) -> None:
    if not _SLUG.match(slug):
        raise InvalidInput(
            "tenant slug must be 2-63 lowercase letters, digits or dashes", {"slug": slug}
        )


class Tenant(Aggregate):
    @staticmethod
    def create_id(slug: str, **_: object) -> UUID:
        # One id per slug: creating a taken slug collides at version 1 in the store.
        return uuid5(NAMESPACE_URL, f"cairn:tenant:{slug}")

    @event("TenantCreated")
    def __init__(self, slug: str, name: str) -> None:
        self.slug = slug
        self.name = name
        self.invitations: dict[str, dict[str, object]] = {}

    def check_invitation_open(self, invitation_id: str, now: datetime) -> None:
        invitation = self.invitations.get(invitation_id)
        if invitation is None:
            raise NotFound("no such invitation", {"invitation_id": invitation_id})
        if invitation["status"] != "open":
            raise InvalidTransition(
                f"the invitation is {invitation['status']}", {"invitation_id": invitation_id}
            )
        expires_at = invitation["expires_at"]
        assert isinstance(expires_at, datetime)
        if now >= expires_at:
            raise InvalidTransition("the invitation expired", {"invitation_id": invitation_id})

    def invite(
        self,
        invitation_id: str,
        email_sealed: str,
        capabilities: list[str],
        invited_by: str,
        expires_at: datetime,
    ) -> None:
        parsed = sorted({str(Capability.parse(c)) for c in capabilities})
        self._invite(invitation_id, email_sealed, parsed, invited_by, expires_at)

    @event("UserInvited")
    def _invite(
        self,
        invitation_id: str,
        email_sealed: str,
        capabilities: list[str],
        invited_by: str,
        expires_at: datetime,
    ) -> None:
        self.invitations[invitation_id] = {
            "email_sealed": email_sealed,
            "capabilities": capabilities,
            "invited_by": invited_by,
            "expires_at": expires_at,
            "status": "open",
        }

    def accept_invitation(self, invitation_id: str, user_id: UUID, now: datetime) -> None:
        self.check_invitation_open(invitation_id, now)
        self._accept(invitation_id, user_id)

    @event("InvitationAccepted")
    def _accept(self, invitation_id: str, user_id: UUID) -> None:
        self.invitations[invitation_id]["status"] = "accepted"
        self.invitations[invitation_id]["user_id"] = user_id

    def withdraw_invitation(self, invitation_id: str, now: datetime) -> None:
        self.check_invitation_open(invitation_id, now)
        self._withdraw(invitation_id)

    @event("InvitationWithdrawn")
    def _withdraw(self, invitation_id: str) -> None:
        self.invitations[invitation_id]["status"] = "withdrawn"
