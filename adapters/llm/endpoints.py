"""The private-address guard of model endpoints: the server is not an open proxy.

A person may name a model endpoint (a local model's base URL, a proxy): the planner's request
then goes from the server to that address, with the person's prompt. Without a guard anyone
with a household could make the server call its own loopback services, the private network
around it or a cloud metadata endpoint (SSRF). So the host is resolved and EVERY address it
resolves to must be public (a name with one public and one private address is refused: which
one a later connection uses is not ours to choose). The operator of a home server allows
loopback and private addresses with CAIRN_ALLOW_PRIVATE_MODEL_ENDPOINTS (decision 0023).
Link-local (cloud metadata at 169.254.169.254), multicast, unspecified and reserved addresses
are refused always.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from commands.ports.endpoints import EndpointGuard, ModelEndpointRefused
from domain.errors import Unprocessable

Resolver = Callable[[str, int], Sequence[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    found: list[tuple[Any, ...]] = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]).split("%", 1)[0] for info in found})


def _never(ip: IpAddress) -> bool:
    return ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved


def _private(ip: IpAddress) -> bool:
    return ip.is_loopback or ip.is_private or not ip.is_global


class ResolvingEndpointGuard:
    """Implements `commands.ports.endpoints.EndpointGuard`. `what` names the endpoint in the
    messages, `setting` the operator's switch and `refused` the error (MCP servers have their
    own: commands.ports.endpoints.McpServerRefused)."""

    def __init__(
        self,
        allow_private: bool = False,
        resolver: Resolver = resolve,
        *,
        what: str = "model endpoint",
        setting: str = "CAIRN_ALLOW_PRIVATE_MODEL_ENDPOINTS",
        refused: type[Unprocessable] = ModelEndpointRefused,
        field: str = "api_base",
    ) -> None:
        self.allow_private = allow_private
        self._resolve = resolver
        self._what, self._setting, self._refused, self._field = what, setting, refused, field

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._refused(
                f"a {self._what} is an http(s) URL with a host name or address",
                {"reason": "not_http", self._field: url[:300]},
            )
        host = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = [ipaddress.ip_address(a) for a in self._resolve(host, port)]
        except (OSError, ValueError, UnicodeError):
            addresses = []
        if not addresses:
            raise self._refused(
                f"the {self._what}'s host {host!r} does not resolve",
                {"reason": "unresolvable", "host": host},
            )
        for ip in addresses:
            mapped = getattr(ip, "ipv4_mapped", None)
            ip = mapped or ip
            if _never(ip) or (_private(ip) and not self.allow_private):
                raise self._refused(
                    f"the {self._what}'s host {host!r} resolves to {ip}, a loopback, private "
                    "or reserved address: this server calls only public endpoints unless its "
                    f"operator allows private ones ({self._setting})",
                    {"reason": "private_address", "host": host, "address": str(ip)},
                )


class GuardedTransport(httpx.HTTPTransport):
    """Checks every request's URL with the guard before connecting: also a redirect's target,
    should a client ever follow one."""

    def __init__(self, guard: EndpointGuard) -> None:
        super().__init__()
        self._guard = guard

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            self._guard.check(str(request.url))
        except Unprocessable as refused:
            raise httpx.ConnectError(refused.message, request=request) from None
        return super().handle_request(request)


def guarded_http_client(guard: EndpointGuard) -> httpx.Client:
    """The HTTP client of calls to endpoints people name: the guard on every request, and no
    redirects (litellm's own OpenAI client follows them: a public endpoint could send the
    request on to a private address)."""
    return httpx.Client(transport=GuardedTransport(guard), follow_redirects=False, timeout=60.0)
