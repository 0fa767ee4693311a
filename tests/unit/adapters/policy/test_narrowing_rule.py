"""The narrowing rule (decision 0015): only added forbids narrow; everything else widens."""

from __future__ import annotations

import pytest

from adapters.policy.changes import only_narrows
from adapters.policy.defaults import DEFAULT_POLICIES, HOUSEHOLD_DEFAULTS

pytestmark = pytest.mark.unit

FORBID = '\n@id("no-email") forbid (principal, action == Action::"email.send", resource);\n'
PERMIT = '\n@id("all") permit (principal, action, resource);\n'


def test_adding_forbids_narrows_and_comments_or_layout_do_not_count() -> None:
    assert only_narrows(DEFAULT_POLICIES, DEFAULT_POLICIES + FORBID)
    assert only_narrows(HOUSEHOLD_DEFAULTS, "// new comment\n" + HOUSEHOLD_DEFAULTS + FORBID)
    assert only_narrows(DEFAULT_POLICIES, DEFAULT_POLICIES.replace("\n\n", "\n\n\n"))


def test_adding_a_permit_widens() -> None:
    assert not only_narrows(DEFAULT_POLICIES, DEFAULT_POLICIES + PERMIT)


def test_removing_any_policy_widens_even_a_permit() -> None:
    without_cap = HOUSEHOLD_DEFAULTS.split('@id("household.blocked-recipients")')[0]
    assert not only_narrows(HOUSEHOLD_DEFAULTS, without_cap)
    without_notes = DEFAULT_POLICIES.replace(
        '@id("notes.autonomous")\npermit (principal, action == Action::"notes.create", resource);',
        "",
    )
    assert without_notes != DEFAULT_POLICIES
    assert not only_narrows(DEFAULT_POLICIES, without_notes)


def test_changing_a_policy_under_the_same_id_widens() -> None:
    raised = HOUSEHOLD_DEFAULTS.replace("> 100000", "> 500000")
    assert raised != HOUSEHOLD_DEFAULTS
    assert not only_narrows(HOUSEHOLD_DEFAULTS, raised)
    flipped = DEFAULT_POLICIES + FORBID
    assert not only_narrows(flipped, DEFAULT_POLICIES + FORBID.replace("forbid", "permit"))


def test_a_text_that_does_not_parse_widens() -> None:
    assert not only_narrows("this is not cedar", DEFAULT_POLICIES)
