"""The HTTP integration client without a network: httpx's MockTransport plays the provider."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from adapters.executor import ROUTES, HttpIntegrations
from commands.ports.integrations import ErrorKind, IntegrationError
from domain.runs.actions import CATALOGUE

pytestmark = pytest.mark.unit

KEY = "a" * 32
NOTE = {"title": "Groceries", "body": "milk"}


def client(
    answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None
) -> HttpIntegrations:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer(request)

    return HttpIntegrations(
        {"notes": "https://notes.example/api/"},
        client=httpx.Client(transport=httpx.MockTransport(handle)),
        auth_headers=lambda tenant, provider: {"Authorization": f"Bearer {tenant}-{provider}"},
    )


def perform(integrations: HttpIntegrations, action: str = "notes.create") -> dict[str, object]:
    return integrations.perform("acme", "notes", action, NOTE, KEY, timeout=2.0)


def test_posts_the_parameters_to_the_actions_route_with_the_key_and_tenant() -> None:
    seen: list[httpx.Request] = []
    integrations = client(lambda r: httpx.Response(201, json={"id": "note_1"}), seen)
    assert perform(integrations) == {"id": "note_1"}
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://notes.example/api/v1/notes"
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Cairn-Tenant"] == "acme"
    assert request.headers["Authorization"] == "Bearer acme-notes"
    assert request.read() == b'{"title":"Groceries","body":"milk"}'


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, ErrorKind.SERVER_ERROR),
        (503, ErrorKind.SERVER_ERROR),
        (429, ErrorKind.RATE_LIMITED),
        (409, ErrorKind.IN_FLIGHT),
        (408, ErrorKind.TIMEOUT),
        (400, ErrorKind.REJECTED),
        (401, ErrorKind.REJECTED),
        (404, ErrorKind.REJECTED),
        (422, ErrorKind.REJECTED),
        (302, ErrorKind.REJECTED),
    ],
)
def test_statuses_map_to_kinds(status: int, kind: ErrorKind) -> None:
    integrations = client(lambda r: httpx.Response(status, headers={"Location": "http://x"}))
    with pytest.raises(IntegrationError) as failed:
        perform(integrations)
    assert failed.value.kind is kind
    assert failed.value.status == status
    assert failed.value.retryable is (status in (500, 503, 429, 409, 408))


def test_a_provider_error_text_is_never_repeated_only_a_short_code() -> None:
    body = {"error": {"code": "invalid_title", "message": "token sk-live-123 is not valid"}}
    with pytest.raises(IntegrationError) as failed:
        perform(client(lambda r: httpx.Response(400, json=body)))
    assert failed.value.message == "HTTP 400 (invalid_title)"
    weird = {"error": {"code": "sk-live-123 is a secret of yours"}}
    with pytest.raises(IntegrationError) as failed:
        perform(client(lambda r: httpx.Response(400, json=weird)))
    assert failed.value.message == "HTTP 400"


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        (httpx.ReadTimeout("slow"), ErrorKind.TIMEOUT),
        (httpx.ConnectTimeout("slow"), ErrorKind.TIMEOUT),
        (httpx.ConnectError("refused"), ErrorKind.CONNECTION),
        (httpx.RemoteProtocolError("closed without answer"), ErrorKind.CONNECTION),
    ],
)
def test_transport_failures_are_retryable(exception: Exception, kind: ErrorKind) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exception

    with pytest.raises(IntegrationError) as failed:
        perform(client(fail))
    assert failed.value.kind is kind
    assert failed.value.retryable


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"id"'])
def test_a_success_without_a_json_object_is_a_bad_response(body: bytes) -> None:
    with pytest.raises(IntegrationError) as failed:
        perform(client(lambda r: httpx.Response(200, content=body)))
    assert failed.value.kind is ErrorKind.BAD_RESPONSE
    assert not failed.value.retryable


def test_unknown_providers_and_actions_are_unsupported_and_never_sent() -> None:
    seen: list[httpx.Request] = []
    integrations = client(lambda r: httpx.Response(201, json={"id": "x"}), seen)
    assert integrations.supports("notes", "notes.create")
    assert not integrations.supports("evil", "notes.create")
    assert not integrations.supports("notes", "shell.run")
    with pytest.raises(IntegrationError) as failed:
        integrations.perform("acme", "evil", "notes.create", NOTE, KEY, timeout=1.0)
    assert failed.value.kind is ErrorKind.UNSUPPORTED
    with pytest.raises(IntegrationError):
        perform(integrations, action="shell.run")
    assert seen == []


def test_every_catalogue_action_has_a_fixed_route() -> None:
    assert set(ROUTES) == set(CATALOGUE)
    assert all(path.startswith("/v1/") for path in ROUTES.values())


@pytest.mark.parametrize("url", ["ftp://host", "notes.example", "file:///etc/passwd"])
def test_base_urls_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        HttpIntegrations({"notes": url})
