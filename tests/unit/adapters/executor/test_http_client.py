"""The HTTP integration client without a network: a urllib3 pool whose `urlopen` plays the
provider (it never connects)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import certifi
import pytest
import urllib3
from urllib3.connection import HTTPConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from adapters.executor import ROUTES, HttpIntegrations
from adapters.executor.http_client import environment_proxy, provider_pool, trusted_tls
from commands.ports.integrations import ErrorKind, IntegrationError
from domain.runs.actions import CATALOGUE

pytestmark = pytest.mark.unit

KEY = "a" * 32
NOTE = {"title": "Groceries", "body": "milk"}


@dataclass(frozen=True)
class Sent:
    origin: str
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    options: dict[str, Any]


def answer(status: int, body: bytes | dict[str, Any] = b"", **headers: str) -> urllib3.HTTPResponse:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    return urllib3.HTTPResponse(body=content, status=status, headers=headers)


class ProviderPool(urllib3.HTTPConnectionPool):
    """A pool for `origin` that answers with `reply` instead of connecting."""

    def __init__(
        self, origin: str, reply: Callable[[Sent], urllib3.HTTPResponse], seen: list[Sent]
    ) -> None:
        super().__init__("provider.invalid")
        self.origin, self.reply, self.seen = origin, reply, seen

    def urlopen(  # type: ignore[override]
        self, method: str, url: str, body: bytes, headers: dict[str, str], **options: Any
    ) -> urllib3.HTTPResponse:
        sent = Sent(self.origin, method, url, body, dict(headers), options)
        self.seen.append(sent)
        return self.reply(sent)


def client(
    reply: Callable[[Sent], urllib3.HTTPResponse], seen: list[Sent] | None = None
) -> HttpIntegrations:
    sent: list[Sent] = [] if seen is None else seen
    return HttpIntegrations(
        {"notes": "https://notes.example/api/"},
        pool_for=lambda origin: ProviderPool(origin, reply, sent),
        auth_headers=lambda tenant, provider: {"Authorization": f"Bearer {tenant}-{provider}"},
    )


def perform(integrations: HttpIntegrations, action: str = "notes.create") -> dict[str, object]:
    return integrations.perform("acme", "notes", action, NOTE, KEY, timeout=2.0)


def test_posts_the_parameters_to_the_actions_route_with_the_key_and_tenant() -> None:
    seen: list[Sent] = []
    integrations = client(lambda r: answer(201, {"id": "note_1"}), seen)
    assert perform(integrations) == {"id": "note_1"}
    (request,) = seen
    assert (request.method, request.origin) == ("POST", "https://notes.example")
    assert request.path == "/api/v1/notes"
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Cairn-Tenant"] == "acme"
    assert request.headers["Authorization"] == "Bearer acme-notes"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == b'{"title":"Groceries","body":"milk"}'
    # Neither retried nor redirected here; the executor retries with the same key.
    assert (request.options["retries"], request.options["redirect"]) == (False, False)
    assert request.options["assert_same_host"] is True


def test_no_credential_hook_can_replace_the_steps_key() -> None:
    seen: list[Sent] = []
    integrations = HttpIntegrations(
        {"notes": "http://notes.example"},
        pool_for=lambda origin: ProviderPool(origin, lambda r: answer(201, {"id": "n"}), seen),
        auth_headers=lambda tenant, provider: {"Idempotency-Key": "forged", "Cairn-Tenant": "x"},
    )
    perform(integrations)
    assert (seen[0].headers["Idempotency-Key"], seen[0].headers["Cairn-Tenant"]) == (KEY, "acme")
    assert seen[0].path == "/v1/notes"


def test_providers_at_one_origin_share_its_kept_connections() -> None:
    made: list[str] = []

    def pool_for(origin: str) -> urllib3.HTTPConnectionPool:
        made.append(origin)
        return ProviderPool(origin, lambda r: answer(201, {"id": "n"}), [])

    HttpIntegrations(
        {"a": "https://p.example/a", "b": "https://p.example/b/", "c": "http://p.example"},
        pool_for=pool_for,
    )
    assert made == ["https://p.example", "http://p.example"]


def test_the_connect_timeout_is_capped_and_the_read_timeout_is_the_handlers() -> None:
    seen: list[Sent] = []
    integrations = client(lambda r: answer(201, {"id": "n"}), seen)
    integrations.perform("acme", "notes", "notes.create", NOTE, KEY, timeout=30.0)
    limits = seen[0].options["timeout"]
    assert (limits.connect_timeout, limits.read_timeout) == (5.0, 30.0)


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
    integrations = client(lambda r: answer(status, Location="http://x"))
    with pytest.raises(IntegrationError) as failed:
        perform(integrations)
    assert failed.value.kind is kind
    assert failed.value.status == status
    assert failed.value.retryable is (status in (500, 503, 429, 409, 408))


def test_a_provider_error_text_is_never_repeated_only_a_short_code() -> None:
    body = {"error": {"code": "invalid_title", "message": "token sk-live-123 is not valid"}}
    with pytest.raises(IntegrationError) as failed:
        perform(client(lambda r: answer(400, body)))
    assert failed.value.message == "HTTP 400 (invalid_title)"
    weird = {"error": {"code": "sk-live-123 is a secret of yours"}}
    with pytest.raises(IntegrationError) as failed:
        perform(client(lambda r: answer(400, weird)))
    assert failed.value.message == "HTTP 400"


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        (ReadTimeoutError(urllib3.HTTPConnectionPool("p.invalid"), "/", "slow"), ErrorKind.TIMEOUT),
        (ConnectTimeoutError(None, "slow"), ErrorKind.TIMEOUT),
        # A subclass of ConnectTimeoutError in urllib3, but a refusal: no waiting helps.
        (NewConnectionError(HTTPConnection("p.invalid"), "refused"), ErrorKind.CONNECTION),
        (ProtocolError("closed without answer"), ErrorKind.CONNECTION),
        (SSLError("certificate verify failed"), ErrorKind.CONNECTION),
    ],
)
def test_transport_failures_are_retryable(exception: Exception, kind: ErrorKind) -> None:
    def fail(request: Sent) -> urllib3.HTTPResponse:
        raise exception

    with pytest.raises(IntegrationError) as failed:
        perform(client(fail))
    assert failed.value.kind is kind
    assert failed.value.retryable


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"id"', b"\xff\xfe\xfa"])
def test_a_success_without_a_json_object_is_a_bad_response(body: bytes) -> None:
    with pytest.raises(IntegrationError) as failed:
        perform(client(lambda r: answer(200, body)))
    assert failed.value.kind is ErrorKind.BAD_RESPONSE
    assert not failed.value.retryable


def test_unknown_providers_and_actions_are_unsupported_and_never_sent() -> None:
    seen: list[Sent] = []
    integrations = client(lambda r: answer(201, {"id": "x"}), seen)
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


def test_provider_pools_never_retry_or_wait_for_a_kept_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    tls = provider_pool("https://p.example:8443")
    assert isinstance(tls, urllib3.HTTPSConnectionPool)
    assert (tls.host, tls.port, tls.proxy) == ("p.example", 8443, None)
    assert tls.conn_kw["ssl_context"].verify_mode is ssl.CERT_REQUIRED
    assert tls.conn_kw["ssl_context"].check_hostname
    plain = provider_pool("http://127.0.0.1:8080")
    assert type(plain) is urllib3.HTTPConnectionPool
    for pool in (tls, plain):
        assert (pool.retries, pool.block) == (False, False)


@pytest.mark.parametrize(
    ("environment", "trusted"),
    [
        ({"SSL_CERT_FILE": "/ca/file.pem", "SSL_CERT_DIR": "/ca"}, {"cafile": "/ca/file.pem"}),
        ({"SSL_CERT_DIR": "/ca"}, {"capath": "/ca"}),
        ({}, {"cafile": certifi.where()}),
    ],
)
def test_certificates_are_trusted_as_httpx_trusted_them(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], trusted: dict[str, str]
) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    asked: list[dict[str, str]] = []
    monkeypatch.setattr(ssl, "create_default_context", lambda **kw: asked.append(kw))
    trusted_tls()
    assert asked == [trusted]


def test_proxies_come_from_the_environment_as_for_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert environment_proxy("https", "p.example") is None
    monkeypatch.setenv("https_proxy", "proxy.test:3128")
    monkeypatch.setenv("no_proxy", "internal.test,localhost")
    assert environment_proxy("https", "p.example") == "http://proxy.test:3128"
    assert environment_proxy("https", "api.internal.test") is None
    assert environment_proxy("http", "p.example") is None
    proxied = provider_pool("https://p.example")
    assert proxied.proxy is not None and proxied.proxy.host == "proxy.test"
    assert provider_pool("https://api.internal.test").proxy is None


def test_a_forwarding_proxy_is_sent_the_whole_url(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Sent] = []

    def pool_for(origin: str) -> urllib3.HTTPConnectionPool:
        pool = ProviderPool(origin, lambda r: answer(201, {"id": "n"}), seen)
        pool.proxy = urllib3.util.parse_url("http://proxy.test:3128")
        return pool

    perform(HttpIntegrations({"notes": "http://notes.example/api"}, pool_for=pool_for))
    assert seen[0].path == "http://notes.example/api/v1/notes"
    assert seen[0].options["assert_same_host"] is False
