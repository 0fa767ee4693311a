"""The asynchronous SDK against a real Cairn: the same flows, awaited."""

from __future__ import annotations

import asyncio

import pytest

from clients.sdk import AsyncCairn, PushEvent, StreamControl
from tests.e2e.push.harness import LiveCairn
from tests.e2e.sdk.conftest import model_answers, payment
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e


def test_an_async_client_approves_an_escalation_and_follows_it_to_completion(
    live: LiveCairn, provider: FakeProvider
) -> None:
    passkey = SoftwareAuthenticator(EXAMPLE_ORIGIN)

    async def scenario() -> tuple[str, str, list[str]]:
        async with AsyncCairn(live.base_url) as cairn:
            session = await cairn.sign_up(
                passkey,
                tenant_slug="asyncpay",
                tenant_name="Async",
                display_name="Ada",
                email="ada@asyncpay.example.com",
            )
            model_answers(live, session.tenant_id, payment("20.00"))
            accepted = await cairn.submit_intent("Pay Bob 20 euros")
            escalated = await cairn.follow(
                accepted.run_id, lambda e: e.event == "Run.EscalationRequested"
            )
            approved = await cairn.approve(accepted.run_id, passkey)
            names: list[str] = []
            position = 0
            async for item in cairn.subscribe(
                run_id=accepted.run_id, last_event_id=approved.position
            ):
                if isinstance(item, PushEvent):
                    names.append(item.event)
                    position = item.position
                    if item.event == "Run.RunCompleted":
                        break
                else:
                    assert isinstance(item, StreamControl)
            # Read what was seen: the view answers once it has applied that event.
            run = await cairn.run(accepted.run_id, after=position)
            return escalated.status, run.status, names

    escalated, final, names = asyncio.run(scenario())
    assert escalated == "escalated"
    assert final == "completed"
    assert names == ["Run.StepStarted", "Run.StepSucceeded", "Run.RunCompleted"]
    assert provider.performed("payments.send") == 1
