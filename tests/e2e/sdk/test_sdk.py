"""The synchronous SDK against a real Cairn: what a client app does, through `Cairn`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clients.sdk import Cairn, Conflict, Credentials, NotFound, PushEvent, StreamControl
from tests.e2e.push.harness import LiveCairn
from tests.e2e.sdk.conftest import SARAH, model_answers, payment
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e

DONE = ("Run.RunCompleted", "Run.RunFailed", "Run.EscalationRequested", "Run.EscalationDenied")


def done(event: PushEvent) -> bool:
    return event.event in DONE


def signed_up(
    live: LiveCairn,
    slug: str,
    http: httpx.Client | None = None,
    on_credentials: Callable[[Credentials], None] | None = None,
) -> tuple[Cairn, SoftwareAuthenticator]:
    passkey = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    cairn = Cairn(live.base_url, http=http, on_credentials=on_credentials)
    cairn.sign_up(
        passkey,
        tenant_slug=slug,
        tenant_name=slug.title(),
        display_name="Ada Lovelace",
        email=f"ada@{slug}.example.com",
        device_name="laptop",
    )
    return cairn, passkey


def test_a_run_is_followed_live_to_completion(live: LiveCairn, provider: FakeProvider) -> None:
    cairn, _ = signed_up(live, "sarah")
    assert cairn.credentials is not None and cairn.credentials.tenant_id is not None
    model_answers(live, cairn.credentials.tenant_id, SARAH)
    accepted = cairn.submit_intent("Schedule a meeting with Sarah next Tuesday at 2pm")
    assert accepted.position is not None
    run = cairn.follow(accepted.run_id, done)
    assert run.status == "completed", run
    assert [entry.type for entry in run.timeline] == [
        "IntentSubmitted",
        "PlanProposed",
        "PolicyDecided",
        "StepStarted",
        "StepSucceeded",
        "RunCompleted",
    ]
    assert provider.performed("calendar.create_event") == 1
    # Read-your-writes: the list already has the run the client just wrote.
    assert [item["run_id"] for item in cairn.runs().items] == [accepted.run_id]
    events = list(cairn.audit_export(correlation_id=accepted.run_id, page_size=2))
    assert [e["event"].rsplit(".", 1)[-1] for e in events] == [e.type for e in run.timeline]


def test_an_escalation_is_approved_with_a_plan_bound_passkey_then_runs_once(
    live: LiveCairn, provider: FakeProvider
) -> None:
    cairn, passkey = signed_up(live, "escalate")
    assert cairn.credentials is not None and cairn.credentials.tenant_id is not None
    model_answers(live, cairn.credentials.tenant_id, payment("20.00"))
    accepted = cairn.submit_intent("Pay Bob 20 euros")
    assert cairn.follow(accepted.run_id, done).status == "escalated"
    inbox = cairn.approvals()
    assert [item["run_id"] for item in inbox.items] == [accepted.run_id]
    approved = cairn.approve(accepted.run_id, passkey)
    run = cairn.follow(accepted.run_id, done, after=approved.position)
    assert run.status == "completed", run
    assert provider.performed("payments.send") == 1
    with pytest.raises(Conflict) as again:
        cairn.deny(accepted.run_id, "too late")
    assert again.value.status == 409


def test_a_denied_escalation_never_executes(live: LiveCairn, provider: FakeProvider) -> None:
    cairn, _ = signed_up(live, "deny")
    assert cairn.credentials is not None and cairn.credentials.tenant_id is not None
    model_answers(live, cairn.credentials.tenant_id, payment("20.00"))
    accepted = cairn.submit_intent("Pay Bob 20 euros")
    cairn.follow(accepted.run_id, done)
    denied = cairn.deny(accepted.run_id, "not this month")
    run = cairn.follow(accepted.run_id, done, after=accepted.position)
    assert run.status == "denied" and run.position is not None
    assert run.position >= (denied.position or 0)
    assert provider.received() == 0


class DropAnswers(httpx.HTTPTransport):
    """Sends the request, then loses the answer of the first `n` matching ones (the server
    applied them): what a client sees when a connection dies at the worst moment."""

    def __init__(self, path: str, n: int) -> None:
        super().__init__()
        self.path, self.n, self.keys = path, n, list[str]()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path == self.path:
            self.keys.append(request.headers.get("Idempotency-Key", ""))
            if self.n > 0:
                self.n -= 1
                response.read()
                response.close()
                raise httpx.ReadError("connection lost after the request was sent")
        return response


def test_a_command_whose_answer_was_lost_is_retried_with_its_key_and_applied_once(
    live: LiveCairn,
) -> None:
    transport = DropAnswers("/v1/intents", n=2)
    http = httpx.Client(base_url=live.base_url, transport=transport)
    cairn, _ = signed_up(live, "retry", http=http)
    assert cairn.credentials is not None and cairn.credentials.tenant_id is not None
    model_answers(live, cairn.credentials.tenant_id, SARAH)
    accepted = cairn.submit_intent("Schedule a meeting with Sarah")
    assert len(transport.keys) == 3 and len(set(transport.keys)) == 1
    runs = cairn.runs().items
    assert [item["run_id"] for item in runs] == [accepted.run_id]


def test_an_expired_access_token_is_refreshed_and_the_request_answered(live: LiveCairn) -> None:
    saved: list[Credentials] = []
    cairn, _ = signed_up(live, "refresh", on_credentials=saved.append)
    before = cairn.credentials
    assert before is not None
    tokens: Any = live.services.identity.tokens
    tokens.clock = lambda: time.time() + 3600  # every token issued so far has expired
    try:
        assert cairn.policies().is_default
    finally:
        tokens.clock = time.time
    after = cairn.credentials
    assert after is not None and saved[-1] == after
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert after.session_id == before.session_id


def test_a_subscription_resumes_after_the_last_event_it_saw(live: LiveCairn) -> None:
    cairn, _ = signed_up(live, "resume")
    assert cairn.credentials is not None and cairn.credentials.tenant_id is not None
    tenant = cairn.credentials.tenant_id
    first = [live.record(tenant, n) for n in range(3)]
    seen: list[int] = []
    for item in cairn.subscribe(last_event_id=first[0] - 1):
        if isinstance(item, PushEvent):
            seen.append(item.position)
        if seen and seen[-1] == first[1]:
            break
    later = [live.record(tenant, n) for n in range(3, 5)]
    resumed: list[int] = []
    for item in cairn.subscribe(last_event_id=seen[-1]):
        if isinstance(item, StreamControl) and item.type == "ready":
            break
        assert isinstance(item, PushEvent)
        resumed.append(item.position)
    assert seen == first[:2]
    assert resumed == [first[2], *later]


def test_errors_carry_the_apis_codes(live: LiveCairn) -> None:
    cairn, _ = signed_up(live, "errors")
    with pytest.raises(NotFound) as missing:
        cairn.run("00000000-0000-4000-8000-000000000000")
    assert missing.value.code.endswith("not_found")
    assert missing.value.request_id
