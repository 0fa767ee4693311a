"""The SDK against a real Cairn: uvicorn on a free port, a run worker, a fake provider."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from adapters.llm.planner import LiteLLMPlanner
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from entrypoints.projector_cli import projection_settings
from infra.stack.launcher import StackEndpoints
from projections.engine import projector_registry
from projections.engine.projector_host import ProjectorHost
from tests.e2e.push.harness import PUSH_ENV, LiveCairn
from tests.support.cairn_settings import isolated_settings
from tests.support.provider_server import FakeProvider


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def live(
    stack: StackEndpoints,
    migrated_database_url: str,
    unique_name: str,
    tmp_path: Path,
    provider: FakeProvider,
) -> Iterator[LiveCairn]:
    settings = isolated_settings(
        stack,
        migrated_database_url,
        unique_name,
        tmp_path,
        env=dict(PUSH_ENV),
        provider_urls={name: provider.base_url for name in ("google", "bank", "local")},
    )
    # The projectors beside the API, as `cairn up` runs them: queries answer from their views.
    with ProjectorHost(projection_settings(settings), list(projector_registry.PROJECTORS.values())):
        cairn = LiveCairn(settings).start()
        try:
            yield cairn
        finally:
            cairn.stop()


def model_answers(live: LiveCairn, tenant_id: str, answer: dict[str, Any]) -> None:
    """Every model answers `answer` (litellm's own mock path); the tenant has a key."""
    assert live.worker is not None
    worker = live.worker.runs
    gateway = LiteLLMGateway(lambda model: MockAnswer.text(json.dumps(answer)))
    worker.ports = dataclasses.replace(worker.ports, planner=LiteLLMPlanner(gateway=gateway))
    store_provider_key(
        live.services.identity.vault,
        uuid.UUID(tenant_id),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test-1")),
    )


SARAH: dict[str, Any] = {
    "summary": "Meeting with Sarah next Tuesday at 2pm",
    "steps": [
        {
            "step_id": "s1",
            "action": "calendar.create_event",
            "provider": "google",
            "parameters": {
                "title": "Meeting with Sarah",
                "start": "2026-12-01T14:00:00Z",
                "end": "2026-12-01T15:00:00Z",
                "attendees": ["sarah@example.com"],
            },
        }
    ],
}


def payment(amount: str) -> dict[str, Any]:
    return {
        "summary": "Pay Bob",
        "steps": [
            {
                "step_id": "s1",
                "action": "payments.send",
                "provider": "bank",
                "parameters": {"recipient": "bob", "amount": amount, "currency": "EUR"},
            }
        ],
    }
