"""The private-address guard of model endpoints (decision 0023): every address a host
resolves to must be public, unless the operator allows private ones; link-local never."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import httpx
import pytest
from pydantic import SecretStr

from adapters.llm.endpoints import ResolvingEndpointGuard, guarded_http_client
from adapters.llm.gateway import CredentialIncomplete, credential_kwargs
from adapters.llm.routing import DEFAULT_ROUTING_TABLE, CandidateModel
from commands.ports.endpoints import ModelEndpointRefused
from commands.ports.planner import LlmProvider, ProviderCredential

pytestmark = pytest.mark.unit

DNS = {
    "models.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "split.example": ["93.184.215.14", "10.0.0.5"],  # one public, one private address
    "rebind.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:192.168.1.2"],
}


def resolver(host: str, port: int) -> Sequence[str]:
    """The table above; an address resolves to itself, as getaddrinfo answers."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return DNS.get(host, [])


def refusal(guard: ResolvingEndpointGuard, url: str) -> str | None:
    try:
        guard.check(url)
    except ModelEndpointRefused as refused:
        return str(refused.details["reason"])
    return None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://models.example/v1", None),
        ("http://93.184.215.14:8080/v1", None),
        ("https://split.example/v1", "private_address"),
        ("http://rebind.example/v1", "private_address"),
        ("http://127.0.0.1:11434/v1", "private_address"),
        ("http://[::1]:11434/v1", "private_address"),
        ("http://192.168.1.20:11434/v1", "private_address"),
        ("http://100.64.0.1/v1", "private_address"),  # carrier-grade NAT
        ("http://mapped.example/v1", "private_address"),
        ("http://metadata.example/latest", "private_address"),
        ("http://nowhere.example/v1", "unresolvable"),
        ("file:///etc/passwd", "not_http"),
        ("models.example/v1", "not_http"),
    ],
)
def test_only_public_endpoints_by_default(url: str, reason: str | None) -> None:
    assert refusal(ResolvingEndpointGuard(resolver=resolver), url) == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:11434/v1", None),
        ("http://192.168.1.20:11434/v1", None),
        ("https://split.example/v1", None),
        ("http://metadata.example/latest", "private_address"),
        ("http://169.254.1.1/v1", "private_address"),
        ("http://0.0.0.0:11434/v1", "private_address"),
    ],
)
def test_the_operator_may_allow_private_addresses_but_never_link_local(
    url: str, reason: str | None
) -> None:
    guard = ResolvingEndpointGuard(allow_private=True, resolver=resolver)
    assert refusal(guard, url) == reason


def test_a_local_model_is_called_through_the_openai_route_with_its_own_name() -> None:
    credential = ProviderCredential(
        api_key=SecretStr(""),
        api_base="http://192.168.1.20:11434/v1",
        deployments={"default": "llama3.2"},
    )
    assert credential_kwargs(CandidateModel("local/default"), credential) == {
        "model": "openai/llama3.2",
        "api_base": "http://192.168.1.20:11434/v1",
        "api_key": "no-key",
    }
    with pytest.raises(CredentialIncomplete):
        credential_kwargs(CandidateModel("local/default"), ProviderCredential(SecretStr("")))


def test_a_local_model_is_in_every_route_last() -> None:
    for models in DEFAULT_ROUTING_TABLE.routes.values():
        assert models[-1].provider is LlmProvider.LOCAL
        assert [m for m in models if m.provider is LlmProvider.LOCAL] == [models[-1]]


def test_the_guarded_client_refuses_before_connecting_and_follows_no_redirect() -> None:
    client = guarded_http_client(ResolvingEndpointGuard(resolver=resolver))
    assert client.follow_redirects is False
    with pytest.raises(httpx.ConnectError, match="private"):
        client.post("http://rebind.example/v1/chat/completions", json={})
