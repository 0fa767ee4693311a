"""Must show: the MCP SDK's own client completes OAuth against Cairn (consent with the
virtual passkey in the console), lists tools, reads, and calls payments.send over the limit:
it is told "input required" with the console URL, the person approves in the browser, and the
client's two retries execute the payment exactly once at the fake provider."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from playwright.sync_api import Page, Route, expect

from tests.e2e.console.conftest import ConsoleCairn
from tests.e2e.console.screens import sign_up
from tests.support.browser import Passkeys
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e
REDIRECT = "http://127.0.0.1:9/callback"
PAYMENT = {"recipient": "bob", "amount": "20.00", "currency": "EUR"}


class Memory:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Agent:
    """The MCP client in a thread of its own (Playwright's sync API owns the main thread's
    event loop); the test hands it steps and gets their answers through queues."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.authorize_urls: queue.Queue[str] = queue.Queue()
        self.callbacks: queue.Queue[AuthorizationCodeResult] = queue.Queue()
        self.steps: queue.Queue[Callable[[Client], Coroutine[Any, Any, Any]] | None] = queue.Queue()
        self.answers: queue.Queue[Any] = queue.Queue()
        self.storage = Memory()
        self.thread = threading.Thread(target=lambda: anyio.run(self._main), daemon=True)

    async def _redirect(self, url: str) -> None:
        self.authorize_urls.put(url)

    async def _callback(self) -> AuthorizationCodeResult:
        return await anyio.to_thread.run_sync(lambda: self.callbacks.get(timeout=60))

    async def _main(self) -> None:
        auth = OAuthClientProvider(
            server_url=f"{self.base_url}/mcp",
            client_metadata=OAuthClientMetadata(
                client_name="Test agent",
                redirect_uris=[REDIRECT],  # type: ignore[list-item]
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=self.storage,
            redirect_handler=self._redirect,
            callback_handler=self._callback,
        )
        try:
            async with httpx2.AsyncClient(auth=auth, timeout=60) as http:
                transport = streamable_http_client(f"{self.base_url}/mcp", http_client=http)
                async with Client(transport) as client:
                    while True:
                        step = await anyio.to_thread.run_sync(self.steps.get)
                        if step is None:
                            return
                        try:
                            self.answers.put(await step(client))
                        except Exception as error:  # handed to the test to raise
                            self.answers.put(error)
        except Exception as error:
            self.answers.put(error)

    def run(self, step: Callable[[Client], Coroutine[Any, Any, Any]]) -> Any:
        self.steps.put(step)
        answer = self.answers.get(timeout=90)
        if isinstance(answer, Exception):
            raise answer
        return answer


def consent_in_browser(agent: Agent, page: Page) -> None:
    """The browser follows the client's authorization URL, the person allows with the passkey,
    and the redirect to the client's loopback address is caught and handed to the client."""
    url = agent.authorize_urls.get(timeout=60)

    def catch(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        agent.callbacks.put(
            AuthorizationCodeResult(
                code=query["code"][0],
                state=query.get("state", [None])[0],
                iss=query.get("iss", [None])[0],
            )
        )
        route.fulfill(status=200, body="signed in")

    page.route(f"{REDIRECT}**", catch)
    page.goto(url)
    expect(page.get_by_role("heading", name="Allow Test agent to use Cairn?")).to_be_visible()
    expect(page.locator("[data-scope='runs:write']")).to_be_visible()
    page.get_by_role("button", name="Allow with passkey").click()
    expect(page.locator("body")).to_contain_text("signed in")


def test_an_mcp_client_signs_in_reads_and_a_payment_over_the_limit_waits_for_the_passkey(
    console: ConsoleCairn, page: Page, passkeys: Passkeys, provider: FakeProvider
) -> None:
    sign_up(page, "MCP home")
    agent = Agent(console.base_url)
    agent.thread.start()

    async def tools(client: Client) -> types.ListToolsResult:
        return await client.list_tools()

    agent.steps.put(tools)
    consent_in_browser(agent, page)
    listed = agent.answers.get(timeout=90)
    assert not isinstance(listed, Exception), listed
    by_name = {tool.name: tool for tool in listed.tools}
    own = {"submit_intent", "get_run", "list_runs", "list_approvals", "payments.send"}
    assert own <= set(by_name)
    pay = by_name["payments.send"]
    assert pay.annotations is not None and pay.annotations.destructive_hint is True
    assert pay.annotations.read_only_hint is False
    assert by_name["list_runs"].annotations.read_only_hint is True
    assert set(pay.input_schema["properties"]) >= {"recipient", "amount", "currency"}
    assert agent.storage.tokens is not None and "runs:write" in (agent.storage.tokens.scope or "")

    async def read(client: Client) -> types.CallToolResult:
        return await client.call_tool("list_runs", {"limit": 5})

    listed_runs = agent.run(read)
    assert listed_runs.is_error is False and listed_runs.structured_content == {"runs": []}

    async def pay_first(client: Client) -> Any:
        return await client.session.call_tool("payments.send", PAYMENT, allow_input_required=True)

    asked = agent.run(pay_first)
    assert isinstance(asked, types.InputRequiredResult), asked
    assert asked.request_state is not None and asked.input_requests is not None
    elicitation = asked.input_requests["approval"]
    assert isinstance(elicitation, types.ElicitRequest)
    assert isinstance(elicitation.params, types.ElicitRequestURLParams)
    run_id = asked.request_state.removeprefix("cairn-run:")
    assert elicitation.params.url == f"{console.base_url}/#/runs/{run_id}"
    assert provider.performed("payments.send") == 0

    page.goto("/#/approvals")
    card = page.locator(f"[data-run-id='{run_id}']")
    expect(card.get_by_role("region", name="Plan")).to_contain_text("payments.send")
    card.get_by_role("button", name="Approve with passkey").click()
    expect(card).to_contain_text("Approved.")

    state = asked.request_state

    async def retry(client: Client) -> Any:
        accepted: types.InputResponses = {"approval": types.ElicitResult(action="accept")}
        return await client.session.call_tool(
            "payments.send",
            PAYMENT,
            input_responses=accepted,
            request_state=state,
            allow_input_required=True,
        )

    first, second = agent.run(retry), agent.run(retry)
    for answer in (first, second):
        assert isinstance(answer, types.CallToolResult), answer
        assert answer.is_error is False
        assert answer.structured_content["status"] == "completed"
        assert answer.structured_content["run_id"] == run_id
    assert provider.performed("payments.send") == 1
    agent.steps.put(None)

    # The audit trail: the run's own events (plan, decision, approval, step) and one fact
    # per tool call with its run, the decision and what the client was answered.
    events = console.run_events(run_id)
    assert events[:4] == ["IntentSubmitted", "PlanProposed", "PolicyDecided", "EscalationRequested"]
    assert events.count("StepSucceeded") == 1 and events[-1] == "RunCompleted"
    calls = tool_calls(console, page, expected=4)
    assert [(c["details"]["tool"], c["outcome"]) for c in calls] == [
        ("list_runs", "answered"),
        ("payments.send", "escalated"),
        ("payments.send", "completed"),
        ("payments.send", "completed"),
    ]
    assert {c["details"].get("run_id") for c in calls[1:]} == {run_id}
    assert [c["details"].get("decision") for c in calls[1:]] == ["ESCALATE"] * 3
    assert len({c["device_id"] for c in calls}) == 1  # the client's own device


def tool_calls(console: ConsoleCairn, page: Page, expected: int) -> list[dict[str, Any]]:
    """The person's `mcp_tool_call` facts, oldest first, once the view has all of them."""
    token = page.evaluate("JSON.parse(localStorage.getItem('cairn.session')).access_token")
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(300):  # a bound on a busy machine's projector, not a speed goal
        page_of = httpx.get(
            f"{console.base_url}/v1/security-events?limit=100", headers=headers
        ).json()
        found = [e for e in page_of["items"] if e["kind"] == "mcp_tool_call"]
        if len(found) >= expected:
            return list(reversed(found))
        time.sleep(0.1)
    raise AssertionError(f"only {len(found)} tool calls in the security events")
