"""A person's policy set: the Cedar text that decides their plans, each change an event."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class PolicySet(Aggregate):
    @staticmethod
    def create_id(tenant_id: UUID, user_id: str, **_: object) -> UUID:
        # One policy set per person: found from the tenant and user alone.
        return uuid5(NAMESPACE_URL, f"cairn:policies:{tenant_id}:{user_id}")

    @event("PoliciesAdopted")
    def __init__(
        self, tenant_id: UUID, user_id: str, text: str, policy_version: str, changed_by: str
    ) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.text = text
        self.policy_version = policy_version

    def change(self, text: str, policy_version: str, changed_by: str) -> None:
        if policy_version != self.policy_version:
            self._changed(text, policy_version, changed_by)

    @event("PolicyChanged")
    def _changed(self, text: str, policy_version: str, changed_by: str) -> None:
        self.text = text
        self.policy_version = policy_version
