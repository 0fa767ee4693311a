"""Refuse a policy text before it is accepted: it must parse, type-check against the schema,
and give every policy a unique `@id` (decisions name policies by it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import cedarpy

from domain.policy.model import PolicyProblem

# A policy text is stored in an event and parsed on every cache miss: keep it bounded.
MAX_POLICY_TEXT_BYTES = 512 * 1024

_POSITIONAL_ID = re.compile(r"`(policy[0-9]+)`")
_CEDAR_PREFIX = re.compile(r"^for policy `policy[0-9]+`, ")


@dataclass(frozen=True)
class PolicyIds:
    """Cedar's positional ids (`policy0`, ...) of one parsed text, and their `@id` names."""

    names: dict[str, str]

    def name(self, positional: str) -> str:
        return self.names.get(positional, positional)

    def rename(self, message: str) -> str:
        """Cedar messages quote positional ids; show the `@id` instead."""
        return _POSITIONAL_ID.sub(lambda m: f"`{self.name(m.group(1))}`", message)


def _annotations(policy_text: str) -> tuple[dict[str, Any], dict[str, Any]] | PolicyProblem:
    """(static policies, templates) as Cedar JSON, or the parse error."""
    try:
        parsed = json.loads(cedarpy.policies_to_json_str(policy_text))
    except ValueError as exc:
        return PolicyProblem(policy=None, message=f"the policy text does not parse: {exc}")
    return parsed.get("staticPolicies", {}), parsed.get("templates", {})


def policy_ids(policy_text: str) -> PolicyIds:
    found = _annotations(policy_text)
    return PolicyIds({}) if isinstance(found, PolicyProblem) else _ids(found[0])


def static_policies(policy_text: str) -> dict[str, dict[str, Any]]:
    """The policies of a VALID text as Cedar JSON, keyed by their @id, in source order."""
    found = _annotations(policy_text)
    if isinstance(found, PolicyProblem):
        raise ValueError(found.message)
    static = found[0]
    return {static[p]["annotations"]["id"]: static[p] for p in sorted(static, key=_order)}


def _ids(static: dict[str, Any]) -> PolicyIds:
    return PolicyIds(
        {
            positional: body["annotations"]["id"]
            for positional, body in static.items()
            if "id" in body.get("annotations", {})
        }
    )


def _structure_problems(static: dict[str, Any], templates: dict[str, Any]) -> list[PolicyProblem]:
    problems = [
        PolicyProblem(
            policy=positional,
            message="templates (?principal / ?resource slots) are not supported; "
            "write the policy for a concrete principal or resource",
        )
        for positional in sorted(templates, key=_order)
    ]
    owner: dict[str, str] = {}
    for positional in sorted(static, key=_order):
        name = static[positional].get("annotations", {}).get("id")
        if not name:
            problems.append(
                PolicyProblem(
                    policy=positional,
                    message=f"the policy number {_order(positional) + 1} in the text has no "
                    '@id("...") annotation; every policy needs a unique @id so decisions can '
                    "name it",
                )
            )
        elif name in owner:
            problems.append(
                PolicyProblem(
                    policy=name,
                    message=f"the @id is used twice ({owner[name]} and {positional}); "
                    "@id values must be unique",
                )
            )
        else:
            owner[name] = positional
    return problems


def _order(positional: str) -> int:
    return int(positional.removeprefix("policy")) if positional[6:].isdigit() else -1


def validate_policies(policy_text: str, schema: cedarpy.Schema) -> list[PolicyProblem]:
    """Every problem found, in source order; an empty list means the text is acceptable."""
    if len(policy_text.encode()) > MAX_POLICY_TEXT_BYTES:
        return [
            PolicyProblem(
                policy=None,
                message=f"the policy text is larger than {MAX_POLICY_TEXT_BYTES} bytes",
            )
        ]
    found = _annotations(policy_text)
    if isinstance(found, PolicyProblem):
        return [found]  # it does not parse: the schema check would only repeat that
    static, templates = found
    problems = _structure_problems(static, templates)
    ids = _ids(static)
    result = cedarpy.validate_policies(policy_text, schema)
    for error in result.errors:
        message = _CEDAR_PREFIX.sub("", error.error)
        problems.append(
            PolicyProblem(
                policy=ids.name(error.policy_id) if error.policy_id else None,
                message=ids.rename(message),
            )
        )
    return problems


HOUSEHOLD_PREFIX = "household."


def layer_problems(policy_text: str, household: bool) -> list[PolicyProblem]:
    """The rules of a layer, for a text that is otherwise valid. Household guardrails only
    take away (forbid) and name themselves `household.*`, so a decision's named policies say
    which layer they came from; a person's policies never use that prefix."""
    found = _annotations(policy_text)
    if isinstance(found, PolicyProblem):
        return [found]
    problems: list[PolicyProblem] = []
    for positional in sorted(found[0], key=_order):
        body = found[0][positional]
        name = str(body.get("annotations", {}).get("id", positional))
        if household and body.get("effect") != "forbid":
            problems.append(
                PolicyProblem(
                    policy=name,
                    message="household guardrails can only forbid; a person's own policies permit",
                )
            )
        if household != name.startswith(HOUSEHOLD_PREFIX):
            where = "must start" if household else "must not start"
            problems.append(
                PolicyProblem(policy=name, message=f"the @id {where} with {HOUSEHOLD_PREFIX!r}")
            )
    return problems
