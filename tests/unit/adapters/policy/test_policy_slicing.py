"""Which policies a plan is decided against: every one that may apply to its actions."""

from __future__ import annotations

import json

import cedarpy
import pytest

from adapters.policy.compiled import may_apply

pytestmark = pytest.mark.unit

KNOWN = frozenset({"email.send", "notes.create", "payments.send"})
EMAIL_OR_NOTE = 'action in [Action::"email.send", Action::"notes.create"]'


def scope_of(policy_text: str) -> dict[str, object]:
    parsed = json.loads(cedarpy.policies_to_json_str(policy_text))
    policy: dict[str, object] = parsed["staticPolicies"]["policy0"]
    return policy


@pytest.mark.parametrize(
    ("scope", "applies_to"),
    [
        ("action", {"email.send", "notes.create", "payments.send"}),
        ('action == Action::"email.send"', {"email.send"}),
        (
            'action in [Action::"email.send", Action::"notes.create"]',
            {"email.send", "notes.create"},
        ),
        # An action group is not a known action: kept for every action, to be safe.
        ('action in Action::"messaging"', {"email.send", "notes.create", "payments.send"}),
    ],
)
def test_a_policy_is_left_out_only_when_its_scope_names_other_actions(
    scope: str, applies_to: set[str]
) -> None:
    policy = scope_of(f"permit (principal, {scope}, resource);")
    assert {action for action in KNOWN if may_apply(policy, action, KNOWN)} == applies_to
