"""The integration port over HTTP: one POST per action to the provider's base URL.

Each provider (or the connector in front of it) has a base URL; each action a fixed path from
`ROUTES`, so nothing a model wrote ever shapes a URL. The step's idempotency key travels as the
`Idempotency-Key` header, and the provider performs an action at most once per key.
"""

from __future__ import annotations

import json
import os
import re
import ssl
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError
from urllib3.util.proxy import connection_requires_http_tunnel

from commands.ports.integrations import ErrorKind, IntegrationError

ROUTES: Mapping[str, str] = MappingProxyType(
    {
        "calendar.create_event": "/v1/calendar/events",
        "calendar.update_event": "/v1/calendar/event-updates",
        "calendar.delete_event": "/v1/calendar/event-deletions",
        "calendar.free_busy": "/v1/calendar/free-busy",
        "email.send": "/v1/email/messages",
        "email.draft": "/v1/email/drafts",
        "email.search": "/v1/email/searches",
        "reminders.create": "/v1/reminders",
        "notes.create": "/v1/notes",
        "payments.send": "/v1/payments",
    }
)

# Extra headers (e.g. an OAuth bearer token) for one tenant at one provider, asked per call so
# a token is never cached here.
AuthHeaders = Callable[[str, str], Mapping[str, str]]
# The connection pool of one provider's origin (scheme, host, port).
PoolFor = Callable[[str], urllib3.HTTPConnectionPool]

_CODE = re.compile(r"[a-z0-9_.-]{1,64}")
_CONNECT_TIMEOUT_CAP = 5.0
# Idle connections kept per provider: a worker performs at most its concurrency at once.
_KEPT_CONNECTIONS = 20


def provider_pool(origin: str) -> urllib3.HTTPConnectionPool:
    """Kept connections to one origin, trusting and proxied as httpx's client was (its
    defaults read the environment): never retried here (the executor retries, with the step's
    key), redirects never followed (see `perform`), more connections than kept when busy."""
    parts = urlsplit(origin)
    options: dict[str, Any] = {"maxsize": _KEPT_CONNECTIONS, "block": False, "retries": False}
    if parts.scheme == "https":
        options["ssl_context"] = trusted_tls()
    proxy = environment_proxy(parts.scheme, parts.hostname or "")
    if proxy is None:
        return urllib3.connection_from_url(origin, **options)
    return urllib3.ProxyManager(proxy, **options).connection_from_url(origin)


def trusted_tls() -> ssl.SSLContext:
    """Certificates checked against `SSL_CERT_FILE`, else `SSL_CERT_DIR`, else certifi's
    bundle (what httpx did), with the host name."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def environment_proxy(scheme: str, host: str) -> str | None:
    """The proxy `<scheme>_proxy` (else `all_proxy`) names for this host, unless `no_proxy`
    exempts it."""
    proxies = getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or proxy_bypass(host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


class HttpIntegrations:
    """`commands.ports.integrations.Integrations` against providers' HTTP APIs.

    urllib3, not httpx: a call cost a worker ~0.43 ms of CPU through httpx and ~0.2 ms
    through urllib3's pool (decision 0049), for the same request on the same kept connection.
    """

    def __init__(
        self,
        base_urls: Mapping[str, str],
        *,
        auth_headers: AuthHeaders | None = None,
        routes: Mapping[str, str] = ROUTES,
        pool_for: PoolFor = provider_pool,
    ) -> None:
        # Per provider: its origin's pool and what a request names before the route: the base
        # URL's path, or the whole base URL when a proxy forwards the request (plain HTTP; the
        # pool is then the proxy's, so not the named host's).
        self._targets: dict[str, tuple[urllib3.HTTPConnectionPool, str, bool]] = {}
        pools: dict[str, urllib3.HTTPConnectionPool] = {}
        for provider, url in base_urls.items():
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"base URL of {provider!r} must be http(s)://host[:port]")
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in pools:
                pools[origin] = pool_for(origin)
            pool, path = pools[origin], parts.path.rstrip("/")
            forwarded = pool.proxy is not None and not connection_requires_http_tunnel(
                pool.proxy, pool.proxy_config, parts.scheme
            )
            self._targets[provider] = (pool, origin + path if forwarded else path, forwarded)
        self._pools = list(pools.values())
        self._routes = dict(routes)
        self._auth_headers = auth_headers

    def supports(self, provider: str, action: str) -> bool:
        return provider in self._targets and action in self._routes

    def perform(
        self,
        tenant: str,
        provider: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
        person: str | None = None,
    ) -> dict[str, Any]:
        def error(kind: ErrorKind, message: str, status: int | None = None) -> IntegrationError:
            return IntegrationError(kind, message, provider=provider, action=action, status=status)

        if not self.supports(provider, action):
            raise error(ErrorKind.UNSUPPORTED, f"{action} at {provider!r} is not configured")
        pool, base_path, forwarded = self._targets[provider]
        headers = dict(self._auth_headers(tenant, provider)) if self._auth_headers else {}
        # Set last, so that no credential hook can replace the step's key.
        headers.update(
            {
                "Idempotency-Key": idempotency_key,
                "Cairn-Tenant": tenant,
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
        )
        body = json.dumps(
            dict(parameters), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
        limits = urllib3.Timeout(connect=min(timeout, _CONNECT_TIMEOUT_CAP), read=timeout)
        try:
            # Redirects are not followed: a provider that moves would get the key and body at
            # an address nobody configured.
            response = pool.urlopen(
                "POST",
                base_path + self._routes[action],
                body=body,
                headers=headers,
                timeout=limits,
                retries=False,
                redirect=False,
                assert_same_host=not forwarded,
            )
        except NewConnectionError as exc:  # refused, unreachable, unknown host
            raise error(ErrorKind.CONNECTION, f"{provider}: {type(exc).__name__}") from exc
        except TimeoutError as exc:
            message = f"{provider} did not answer within {timeout:g} s"
            raise error(ErrorKind.TIMEOUT, message) from exc
        except HTTPError as exc:
            # Reset, or closed before an answer: the action may have happened (closed after),
            # which is why the retry must carry the same key.
            raise error(ErrorKind.CONNECTION, f"{provider}: {type(exc).__name__}") from exc
        return _result(response.status, response.data or b"", error)

    def close(self) -> None:
        for pool in self._pools:
            pool.close()

    def __enter__(self) -> HttpIntegrations:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None


def _result(
    status: int,
    body: bytes,
    error: Callable[[ErrorKind, str, int | None], IntegrationError],
) -> dict[str, Any]:
    if 200 <= status < 300:
        answer = _json(body)
        if not isinstance(answer, dict):
            raise error(ErrorKind.BAD_RESPONSE, f"HTTP {status} without a JSON object", status)
        return answer
    summary = f"HTTP {status}" + _provider_code(body)
    if status == 409:
        raise error(ErrorKind.IN_FLIGHT, f"{summary}: the same key is still in flight", status)
    if status == 429:
        raise error(ErrorKind.RATE_LIMITED, summary, status)
    if status == 408:
        raise error(ErrorKind.TIMEOUT, summary, status)
    if status >= 500:
        raise error(ErrorKind.SERVER_ERROR, summary, status)
    raise error(ErrorKind.REJECTED, summary, status)


def _provider_code(body: bytes) -> str:
    """A short machine code from the error body, if it has one; never free text, which may
    repeat credentials or personal data into the run's events."""
    answer = _json(body)
    problem = answer.get("error") if isinstance(answer, dict) else None
    code = problem.get("code") if isinstance(problem, dict) else None
    return f" ({code})" if isinstance(code, str) and _CODE.fullmatch(code) else ""
