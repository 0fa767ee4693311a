"""Policy sets as aggregates: each person's own Cedar text, and the household's guardrails.

Each change is an event carrying the whole text (a decision names its text by hash, and the
text must be found again to replay it) and, when the change widened what runs without the
person, the passkey assertion that approved exactly that change (decision 0015).
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class PolicyText:
    """The text both policy aggregates keep and how it changes. Each aggregate names the
    change event in its own body, so that the event keeps that aggregate's stored topic
    (domain/integrations/channel.py says why)."""

    text: str
    policy_version: str

    def change(
        self, text: str, policy_version: str, changed_by: str, approval: dict[str, Any] | None
    ) -> None:
        if policy_version != self.policy_version:
            self._changed(text, policy_version, changed_by, approval)

    # `approval` has a default: PolicyChanged events stored before decision 0015 do not
    # carry it.
    def _changed(
        self,
        text: str,
        policy_version: str,
        changed_by: str,
        approval: dict[str, Any] | None = None,
    ) -> None:
        self.text = text
        self.policy_version = policy_version


class PolicySet(PolicyText, Aggregate):
    @staticmethod
    def create_id(tenant_id: UUID, user_id: str, **_: object) -> UUID:
        # One policy set per person: found from the tenant and user alone.
        return uuid5(NAMESPACE_URL, f"cairn:policies:{tenant_id}:{user_id}")

    @event("PoliciesAdopted")
    def __init__(
        self,
        tenant_id: UUID,
        user_id: str,
        text: str,
        policy_version: str,
        changed_by: str,
        approval: dict[str, Any] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.text = text
        self.policy_version = policy_version

    _changed = event("PolicyChanged")(PolicyText._changed)


class HouseholdGuardrails(PolicyText, Aggregate):
    """The tenant's guardrails: forbid rules every member's decisions are held to."""

    @staticmethod
    def create_id(tenant_id: UUID, **_: object) -> UUID:
        return uuid5(NAMESPACE_URL, f"cairn:household-guardrails:{tenant_id}")

    @event("GuardrailsAdopted")
    def __init__(
        self,
        tenant_id: UUID,
        text: str,
        policy_version: str,
        changed_by: str,
        approval: dict[str, Any] | None,
    ) -> None:
        self.tenant_id = tenant_id
        self.text = text
        self.policy_version = policy_version

    _changed = event("GuardrailsChanged")(PolicyText._changed)
