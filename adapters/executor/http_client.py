"""The integration port over HTTP: one POST per action to the provider's base URL.

Each provider (or the connector in front of it) has a base URL; each action a fixed path from
`ROUTES`, so nothing a model wrote ever shapes a URL. The step's idempotency key travels as the
`Idempotency-Key` header, and the provider performs an action at most once per key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import httpx

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

_CODE = re.compile(r"[a-z0-9_.-]{1,64}")
_CONNECT_TIMEOUT_CAP = 5.0


class HttpIntegrations:
    """`commands.ports.integrations.Integrations` against providers' HTTP APIs."""

    def __init__(
        self,
        base_urls: Mapping[str, str],
        *,
        auth_headers: AuthHeaders | None = None,
        routes: Mapping[str, str] = ROUTES,
        client: httpx.Client | None = None,
    ) -> None:
        for provider, url in base_urls.items():
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"base URL of {provider!r} must be http(s)://host[:port]")
        self._base_urls = {provider: url.rstrip("/") for provider, url in base_urls.items()}
        self._routes = dict(routes)
        self._auth_headers = auth_headers
        # Redirects are not followed: a provider that moves would get the key and body at an
        # address nobody configured.
        self._client = client or httpx.Client(follow_redirects=False)
        self._owns_client = client is None

    def supports(self, provider: str, action: str) -> bool:
        return provider in self._base_urls and action in self._routes

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
        url = self._base_urls[provider] + self._routes[action]
        headers = dict(self._auth_headers(tenant, provider)) if self._auth_headers else {}
        # Set last, so that no credential hook can replace the step's key.
        headers.update(
            {
                "Idempotency-Key": idempotency_key,
                "Cairn-Tenant": tenant,
                "Accept": "application/json",
            }
        )
        limits = httpx.Timeout(timeout, connect=min(timeout, _CONNECT_TIMEOUT_CAP))
        try:
            response = self._client.post(
                url, json=dict(parameters), headers=headers, timeout=limits
            )
        except httpx.TimeoutException as exc:
            message = f"{provider} did not answer within {timeout:g} s"
            raise error(ErrorKind.TIMEOUT, message) from exc
        except httpx.TransportError as exc:
            # Connection refused, reset, or closed before an answer: the action may have
            # happened (closed after), which is why the retry must carry the same key.
            raise error(ErrorKind.CONNECTION, f"{provider}: {type(exc).__name__}") from exc
        return _result(response, error)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpIntegrations:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _result(
    response: httpx.Response, error: Callable[[ErrorKind, str, int | None], IntegrationError]
) -> dict[str, Any]:
    status = response.status_code
    if 200 <= status < 300:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise error(ErrorKind.BAD_RESPONSE, f"HTTP {status} without a JSON object", status)
        return body
    summary = f"HTTP {status}" + _provider_code(response)
    if status == 409:
        raise error(ErrorKind.IN_FLIGHT, f"{summary}: the same key is still in flight", status)
    if status == 429:
        raise error(ErrorKind.RATE_LIMITED, summary, status)
    if status == 408:
        raise error(ErrorKind.TIMEOUT, summary, status)
    if status >= 500:
        raise error(ErrorKind.SERVER_ERROR, summary, status)
    raise error(ErrorKind.REJECTED, summary, status)


def _provider_code(response: httpx.Response) -> str:
    """A short machine code from the error body, if it has one; never free text, which may
    repeat credentials or personal data into the run's events."""
    try:
        body = response.json()
    except ValueError:
        return ""
    problem = body.get("error") if isinstance(body, dict) else None
    code = problem.get("code") if isinstance(problem, dict) else None
    return f" ({code})" if isinstance(code, str) and _CODE.fullmatch(code) else ""
