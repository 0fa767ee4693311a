"""A validated policy text, parsed once and sliced by action.

Cedar evaluates every policy of a set for every request; with 200 policies that is most of a
decision's cost. A policy whose action scope names other actions can never be satisfied (nor
fail) for this request, so leaving it out changes no decision, reason or error. Each plan is
therefore decided against the policies that can apply to its actions: the scope-free ones plus
those naming one of them. The sets are built from Cedar's JSON form keyed by `@id`, so Cedar
reports the `@id` names directly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

import cedarpy


def may_apply(policy: dict[str, Any], action: str, known_actions: frozenset[str]) -> bool:
    """False only when the policy's action scope surely excludes `action`."""
    scope = policy.get("action", {})
    op = scope.get("op")
    if op == "==":
        named = [scope.get("entity", {})]
    elif op == "in":
        named = scope.get("entities") or [scope.get("entity", {})]
    else:
        return True  # `action` unconstrained (or a form this code does not know: keep it)
    for entity in named:
        entity_id = entity.get("id")
        if entity.get("type") != "Action" or entity_id not in known_actions:
            return True  # an action group or something unexpected: keep it, to be safe
        if entity_id == action:
            return True
    return False


def _policy_set(policies: dict[str, dict[str, Any]]) -> cedarpy.PolicySet:
    document = {"staticPolicies": policies, "templates": {}, "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(document))


class CompiledPolicies:
    """Immutable once built, apart from a lock-guarded cache of sets per group of actions."""

    def __init__(
        self,
        version: str,
        text: str,
        policies_by_id: dict[str, dict[str, Any]],
        known_actions: Iterable[str],
    ) -> None:
        self.version = version
        self.text = text
        self._policies = policies_by_id
        self._known_actions = frozenset(known_actions)
        self._everything = _policy_set(policies_by_id)
        self._by_actions: dict[frozenset[str], cedarpy.PolicySet] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._policies)

    def for_actions(self, actions: Iterable[str]) -> cedarpy.PolicySet:
        """The policies that may apply to any of `actions`."""
        key = frozenset(actions)
        if not key <= self._known_actions:
            return self._everything  # Cedar will refuse the unknown action; keep it all
        with self._lock:
            found = self._by_actions.get(key)
        if found is None:
            found = _policy_set(
                {
                    policy_id: policy
                    for policy_id, policy in self._policies.items()
                    if any(may_apply(policy, action, self._known_actions) for action in key)
                }
            )
            with self._lock:
                self._by_actions[key] = found
        return found
