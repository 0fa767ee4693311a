"""Submitting an intent: Given / When / Then, in memory."""

from __future__ import annotations

import uuid

import pytest

from commands.runs.intents import SubmitIntent, run_id_for
from domain.runs.run import Run, RunStatus
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit


def _run(scenario: Scenario, run_id: str) -> Run:
    run: object = scenario.ports.runs.repository.get(uuid.UUID(run_id))
    assert isinstance(run, Run)
    return run


def test_an_intent_starts_a_run_named_by_its_command_id(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    then = scenario.when(
        SubmitIntent(text="Pay Bob 20 euros", channel="voice"), scenario.issued(ada, "k1")
    )
    run_id = then.result.ids["run_id"]
    assert run_id == str(run_id_for(ada.tenant_id, "k1"))
    assert then.events == ["Run.IntentSubmitted"]
    context = then.context_of("Run.IntentSubmitted")
    assert (context.tenant, context.actor, context.correlation_id, context.command_id) == (
        str(ada.tenant_id),
        ada.user_id,
        run_id,
        "k1",
    )
    run = _run(scenario, run_id)
    assert (run.status, run.channel, run.user_id) == (RunStatus.SUBMITTED, "voice", ada.user_id)


def test_an_intent_without_an_idempotency_key_is_refused(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    then = scenario.when(SubmitIntent(text="Pay Bob"), scenario.issued(ada))
    then.refused("invalid_input")
    then.nothing_recorded()
