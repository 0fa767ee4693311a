"""HTTP calls to one provider on behalf of one person, with a fresh token for each call.

The token comes from `ConnectionTokens` just before the request and is never kept. A 401 tells
the port the token was rejected (so it refreshes) and the call is made once more with the new
token; a missing or dead connection becomes `NEEDS_PERSON`, which no retry can cure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.integrations.providers.errors import classify
from commands.ports.connections import ConnectionMissing, ConnectionTokens, ReauthNeeded
from commands.ports.integrations import ErrorKind, IntegrationError
from domain.errors import Unavailable

_CONNECT_TIMEOUT_CAP = 5.0
# The provider's machine reason of an error answer (Google's `reason`, Graph's `error.code`).
Reason = Callable[[httpx.Response], str | None]


class ProviderClient:
    def __init__(
        self,
        provider: str,
        base_url: str,
        tokens: ConnectionTokens,
        reason: Reason,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base URL of {provider!r} must be http(s)://host[:port]")
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.reason = reason
        # Redirects are not followed: a token must reach only the configured address.
        self.http = client or httpx.Client(follow_redirects=False)

    def error(self, kind: ErrorKind, action: str, message: str) -> IntegrationError:
        return IntegrationError(kind, message, provider=self.provider, action=action)

    def request(
        self,
        tenant: str,
        person: str,
        action: str,
        method: str,
        path: str,
        *,
        timeout: float,
        json: Any = None,
        # A list of pairs where a name repeats (Gmail's `metadataHeaders`).
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        accept: Collection[int] = (200, 201, 202, 204),
    ) -> httpx.Response:
        """The answer if its status is in `accept`; any other raises `IntegrationError`."""
        pairs = params.items() if isinstance(params, Mapping) else params or ()
        query: list[tuple[str, Any]] = list(pairs)
        for attempt in (1, 2):
            token = self._token(tenant, person, action)
            headers = {"Authorization": f"Bearer {token.value}", "Accept": "application/json"}
            limits = httpx.Timeout(timeout, connect=min(timeout, _CONNECT_TIMEOUT_CAP))
            try:
                response = self.http.request(
                    method,
                    self.base_url + path,
                    json=json,
                    params=query,
                    headers=headers,
                    timeout=limits,
                )
            except httpx.TimeoutException as exc:
                message = f"{self.provider} did not answer within {timeout:g} s"
                raise self.error(ErrorKind.TIMEOUT, action, message) from exc
            except httpx.TransportError as exc:
                message = f"{self.provider}: {type(exc).__name__}"
                raise self.error(ErrorKind.CONNECTION, action, message) from exc
            if response.status_code == 401 and attempt == 1:
                # Revoked or expired early at the provider: the next token is a refreshed one.
                self.tokens.rejected(tenant, token)
                continue
            if response.status_code in accept:
                return response
            raise classify(
                response, provider=self.provider, action=action, code=self.reason(response)
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _token(self, tenant: str, person: str, action: str) -> Any:
        try:
            return self.tokens.access_token(tenant, person, self.provider)
        except (ConnectionMissing, ReauthNeeded) as exc:
            message = f"{exc.code}: {person}'s {self.provider} account must be connected again"
            if isinstance(exc, ConnectionMissing):
                message = f"{exc.code}: {person} has no {self.provider} account connected"
            raise self.error(ErrorKind.NEEDS_PERSON, action, message) from exc
        except Unavailable as exc:
            message = f"the {self.provider} token service is unavailable"
            raise self.error(ErrorKind.CONNECTION, action, message) from exc

    def close(self) -> None:
        self.http.close()
