"""Changing one's policies: Given / When / Then, in memory."""

from __future__ import annotations

import pytest

from commands.runs.policies import ChangePolicies, current_policies
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit


def test_changed_policies_are_adopted_then_changed(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    defaults = scenario.ports.policy.default_policies(str(ada.tenant_id))
    stricter = (
        defaults
        + '\n@id("no-notes")\nforbid(principal, action == Action::"notes.create", resource);\n'
    )
    adopted = scenario.when(ChangePolicies(text=stricter), scenario.issued(ada))
    assert adopted.events == ["PolicySet.PoliciesAdopted"]
    changed = scenario.when(ChangePolicies(text=defaults), scenario.issued(ada))
    assert changed.events == ["PolicySet.PolicyChanged"]
    now = current_policies(scenario.caller(ada), scenario.ports.runs, scenario.ports.policy)
    assert (now.text, now.version) == (defaults, changed.result.ids["policy_version"])
    assert changed.result.ids["policy_version"] != adopted.result.ids["policy_version"]


def test_policies_that_do_not_validate_are_refused(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bad = '@id("x")\npermit(principal, action == Action::"shell.exec", resource);'
    then = scenario.when(ChangePolicies(text=bad), scenario.issued(ada))
    assert then.refused("invalid_policies").details["problems"]
    then.nothing_recorded()
