"""Translate a recorded `DecisionInput` into Cedar requests and entities, and answers back.

Pure functions over recorded values: the same input always gives the same requests, which is
what makes `replay` reproduce a decision.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cedarpy

from domain.policy.combine import StepVerdicts
from domain.policy.inputs import StepFacts, step_facts
from domain.policy.model import DecisionInput, Mode, Verdict
from domain.runs.actions import policy_action

MODES = (Mode.AUTONOMOUS, Mode.WITH_APPROVAL)


def _uid(entity_type: str, entity_id: str) -> dict[str, str]:
    return {"type": entity_type, "id": entity_id}


def entities(decision_input: DecisionInput) -> list[dict[str, Any]]:
    """The principal's entities, and the upstream MCP tools the plan names (the only
    resources with attributes; the others need no entry)."""
    principal = decision_input.principal
    user = _uid("User", principal.user_id)
    found: list[dict[str, Any]] = [
        {
            "uid": user,
            "attrs": {"capabilities": list(decision_input.capabilities)},
            "parents": [_uid("Tenant", principal.tenant_id)],
        }
    ]
    if principal.device_id is not None:
        found.append({"uid": _uid("Device", principal.device_id), "attrs": {}, "parents": [user]})
    tools = {step.resource.id: step for step in decision_input.steps if step.upstream is not None}
    for step in tools.values():
        assert step.upstream is not None
        attrs = step.upstream.model_dump(mode="json")
        found.append(
            {"uid": _uid(step.resource.type, step.resource.id), "attrs": attrs, "parents": []}
        )
    return found


def context(facts: StepFacts, mode: Mode) -> dict[str, Any]:
    found: dict[str, Any] = {
        "mode": mode.value,
        "autonomy": facts.autonomy,
        "local_hour": facts.local_hour,
        "local_weekday": facts.local_weekday,
        "holds_capability": facts.holds_capability,
        "recipients": list(facts.recipients),
        "recipient_domains": list(facts.recipient_domains),
        "recipient_count": len(facts.recipients),
    }
    if facts.device_id is not None:
        found["device"] = {"__entity": _uid("Device", facts.device_id)}
    if facts.amount_cents is not None:
        found["amount_cents"] = facts.amount_cents
        found["currency"] = facts.currency
    return found


def requests(decision_input: DecisionInput) -> list[dict[str, Any]]:
    """Two requests per step, in step order: autonomous, then with approval."""
    principal = _uid("User", decision_input.principal.user_id)
    return [
        {
            "principal": principal,
            "action": _uid("Action", policy_action(step.action)),
            "resource": _uid(step.resource.type, step.resource.id),
            "context": context(facts, mode),
        }
        for step in decision_input.steps
        for facts in (step_facts(decision_input, step),)
        for mode in MODES
    ]


@dataclass(frozen=True)
class CedarCall:
    """One decision's Cedar input, built once for both layers: the requests with their contexts
    as JSON text (cedarpy passes text through; it would serialise a dict on every call), the
    entities as JSON text, and `key`: every string Cedar is given (the entities' text, then six
    per request: principal type and id, action id, resource type and id, context text). Equal
    keys mean Cedar is given exactly the same requests and entities."""

    requests: list[dict[str, Any]]
    actions: frozenset[str]
    entities: str
    key: tuple[str, ...]


def call_for(decision_input: DecisionInput) -> CedarCall:
    found = json.dumps(entities(decision_input))
    asked: list[dict[str, Any]] = []
    key = [found]
    for request in requests(decision_input):
        principal, action, resource = request["principal"], request["action"], request["resource"]
        context_text = json.dumps(request["context"])
        asked.append({**request, "context": context_text})
        key += (principal["type"], principal["id"], action["id"])
        key += (resource["type"], resource["id"], context_text)
    return CedarCall(
        requests=asked,
        actions=frozenset(request["action"]["id"] for request in asked),
        entities=found,
        key=tuple(key),
    )


def verdict(result: cedarpy.AuthzResult) -> Verdict:
    """Cedar's answer as a `Verdict`. Policy sets are keyed by `@id`, so reasons are names.

    Cedar reports reasons and errors in no guaranteed order; they are sorted so a replay
    compares equal. A request Cedar could not even build (e.g. an action missing from the
    schema) comes back as NoDecision with an error: not allowed.
    """
    diagnostics = result.diagnostics
    return Verdict(
        allowed=result.decision == cedarpy.Decision.Allow,
        policies=tuple(sorted(diagnostics.reasons)),
        errors=tuple(sorted(diagnostics.errors)),
    )


def pair_by_step(verdicts: Sequence[Verdict]) -> list[StepVerdicts]:
    return [(verdicts[i], verdicts[i + 1]) for i in range(0, len(verdicts), len(MODES))]
