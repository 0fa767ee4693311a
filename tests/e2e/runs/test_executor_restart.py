"""The executor dies between StepStarted and the provider call; after a restart the action
happens exactly once at the provider."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

import pytest

from adapters.executor.handlers import default_registry
from adapters.executor.http_client import HttpIntegrations
from commands.runs.execute import execute_run
from commands.settings import CairnSettings
from domain.runs.run import Run
from tests.e2e.runs.test_intent_lifecycle import SARAH, submit, wait_status, with_model_answering
from tests.support.in_process import Cairn
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e


class ExecutorDied(BaseException):
    """Not an Exception: nothing in the executor may catch it, as nothing catches a kill."""


class DiesBeforeTheCall:
    def __init__(self, real: HttpIntegrations) -> None:
        self.real = real

    def supports(self, provider: str, action: str) -> bool:
        return self.real.supports(provider, action)

    def perform(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ExecutorDied


def test_action_happens_once_after_an_executor_crash_and_restart(
    cairn: Cairn, cairn_settings: CairnSettings, provider: FakeProvider
) -> None:
    ada = cairn.sign_up("crash")
    with_model_answering(cairn, ada, SARAH)
    runs = cairn.runs_worker
    healthy = runs.ports
    dying = DiesBeforeTheCall(HttpIntegrations(cairn_settings.provider_urls))

    def crashing_execute(run: Run, tenant_id: UUID, _cause: str | None) -> Run | None:
        # Handed over with the worker's plan and decision not saved yet: they go with the start.
        return execute_run(
            run.id, healthy.runs, default_registry(), dying, str(tenant_id), loaded=run
        ).run

    runs.ports = dataclasses.replace(healthy, execute=crashing_execute)
    run_id = submit(cairn, ada, "Schedule a meeting with Sarah")["run_id"]
    stuck = wait_status(cairn, ada, run_id, "executing")
    assert [s["state"] for s in stuck["steps"].values()] == ["started"]
    assert provider.received() == 0

    # A restarted worker has the real executor; the event whose step died unacknowledged comes
    # back to it after the ack wait, without any request.
    runs.ports = healthy
    done = wait_status(cairn, ada, run_id, "completed")
    assert done["steps"]["s1"]["state"] == "succeeded"
    assert provider.performed("calendar.create_event") == 1
