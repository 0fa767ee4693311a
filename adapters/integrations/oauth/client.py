"""The OAuth 2.0 client (authlib over httpx): authorization code + PKCE S256, refresh and
revocation (RFC 7009), with the provider's answers sorted into what Cairn acts on.

- `invalid_grant` to a refresh is the only answer that kills a grant (`GrantRejected`);
- a 5xx, a timeout or a broken connection is transient (`Unavailable`, retry later);
- nothing here logs or raises with a token, a code, a verifier or the client secret in it:
  errors carry the provider's error code and HTTP status only.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx  # authlib's httpx integration speaks httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from adapters.integrations.oauth.providers import ProviderConfig
from domain.errors import Unavailable
from domain.integrations.grants import (
    AuthorizationFailed,
    GrantRejected,
    IssuerMismatch,
    ProviderAccount,
    ProviderNotConfigured,
    TokenGrant,
)

logger = logging.getLogger("cairn.integrations.oauth")
_AADSTS = re.compile(r"\bAADSTS\d{1,9}\b")

TIMEOUT_S = 10.0
RETRY_AFTER_S = 5
DEFAULT_LIFETIME_S = 3600


def new_code_verifier() -> str:
    """43-128 characters of [A-Za-z0-9-._~] (RFC 7636): 64 url-safe characters here."""
    return secrets.token_urlsafe(48)


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _claims(id_token: str | None) -> ProviderAccount | None:
    """The account from the ID token's claims. Its signature is not checked: it came straight
    from the provider's token endpoint over TLS (OpenID Connect Core 3.1.3.7).

    Microsoft's `sub` is pairwise (one per application) and its ID token has no `email`
    unless configured: the account is the directory object (`tid`/`oid`, what Microsoft
    says to key a person by) and the address its `preferred_username` when that is one."""
    if not id_token:
        return None
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict):
        return None
    tenant, oid = _text(claims, "tid"), _text(claims, "oid")
    subject = f"{tenant}/{oid}" if tenant and oid else _text(claims, "sub")
    if subject is None:
        return None
    username = _text(claims, "preferred_username")
    email = _text(claims, "email") or (username if username and "@" in username else None)
    return ProviderAccount(subject, email)


def _aadsts(exc: OAuthError) -> str:
    """Microsoft's AADSTS code from an error description (the only part of it logged: the
    text may hold anything the provider chose to echo)."""
    found = _AADSTS.search(str(exc.description or ""))
    return f" ({found.group(0)})" if found else ""


def _grant(token: Mapping[str, Any], asked: tuple[str, ...]) -> TokenGrant:
    lifetime = token.get("expires_in")
    seconds = int(lifetime) if isinstance(lifetime, int | float | str) and str(lifetime) else 0
    scope = token.get("scope")
    scopes = frozenset(str(scope).split()) if scope else frozenset(asked)
    refresh = token.get("refresh_token")
    return TokenGrant(
        access_token=str(token["access_token"]),
        refresh_token=str(refresh) if refresh else None,
        expires_at=datetime.now(UTC) + timedelta(seconds=seconds or DEFAULT_LIFETIME_S),
        scopes=scopes,
        account=_claims(token.get("id_token")),
    )


def _transient(provider: str, what: str, exc: Exception) -> Unavailable:
    status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
    logger.warning("%s of %s failed: %s (%s)", what, provider, type(exc).__name__, status)
    return Unavailable(
        f"the provider {provider!r} did not answer the {what}; retry later",
        {"provider": provider, "retry_after": RETRY_AFTER_S, "status": status},
    )


class OAuthClients:
    """One configured client per provider; thread-safe (a new authlib session per call)."""

    def __init__(
        self,
        providers: Mapping[str, ProviderConfig],
        redirect_uri: str,
        timeout_s: float = TIMEOUT_S,
        more: Callable[[str], ProviderConfig | None] | None = None,
    ) -> None:
        self.providers = dict(providers)
        self.redirect_uri = redirect_uri
        self.timeout_s = timeout_s
        # Providers registered at run time (upstream MCP servers' authorization servers).
        self.more = more

    def config(self, provider: str) -> ProviderConfig:
        found = self.providers.get(provider)
        if found is None and self.more is not None:
            found = self.more(provider)
        if found is None:
            raise ProviderNotConfigured(
                f"no OAuth provider {provider!r} is configured", {"provider": provider}
            )
        return found

    def names(self) -> list[str]:
        return sorted(self.providers)

    def base_scopes(self, provider: str) -> tuple[str, ...]:
        return self.config(provider).base_scopes

    def _session(self, config: ProviderConfig, scopes: tuple[str, ...] = ()) -> OAuth2Client:
        secret = config.client_secret.reveal_text() or None
        return OAuth2Client(
            client_id=config.client_id,
            client_secret=secret,
            scope=" ".join(scopes) or None,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            # A public client (PKCE, no secret) authenticates with nothing.
            token_endpoint_auth_method="client_secret_post" if secret else "none",
            timeout=self.timeout_s,
        )

    def authorization_url(
        self, provider: str, scopes: tuple[str, ...], state: str, code_verifier: str
    ) -> str:
        config = self.config(provider)
        with self._session(config, scopes) as session:
            url, _ = session.create_authorization_url(
                config.authorization_endpoint,
                state=state,
                code_verifier=code_verifier,
                **dict(config.extra),
            )
        return str(url)

    def check_issuer(self, provider: str, iss: str | None) -> None:
        """RFC 9207: a provider that sends `iss` must send its own; one that always sends it
        must not leave it out (a mix-up attack would)."""
        config = self.config(provider)
        if iss is None and not config.sends_iss:
            return
        if iss is None or not config.issuer or not secrets.compare_digest(iss, config.issuer):
            raise IssuerMismatch(
                "the authorization response does not come from this provider's issuer",
                {"provider": provider},
            )

    def exchange(self, provider: str, code: str, code_verifier: str) -> TokenGrant:
        config = self.config(provider)
        try:
            with self._session(config) as session:
                token = session.fetch_token(
                    config.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    **dict(config.token_params),
                )
        except OAuthError as exc:
            logger.info("code exchange of %s refused: %s%s", provider, exc.error, _aadsts(exc))
            raise AuthorizationFailed(
                "the provider refused the authorization; start the connect again",
                {"provider": provider, "provider_error": str(exc.error)},
            ) from None
        except (httpx.HTTPStatusError, httpx.TransportError) as exc:
            raise _transient(provider, "code exchange", exc) from None
        if "access_token" not in token:
            raise AuthorizationFailed(
                "the provider answered without an access token", {"provider": provider}
            )
        return _grant(token, ())

    def refresh(self, provider: str, refresh_token: str, scopes: tuple[str, ...]) -> TokenGrant:
        config = self.config(provider)
        try:
            with self._session(config) as session:
                token = session.refresh_token(
                    config.token_endpoint, refresh_token=refresh_token, **dict(config.token_params)
                )
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                logger.warning(
                    "refresh of %s: invalid_grant%s, the grant is dead", provider, _aadsts(exc)
                )
                raise GrantRejected(provider) from None
            # invalid_client, server_error in a 400...: a fault of ours or theirs, not a death.
            raise _transient(provider, f"refresh ({exc.error})", exc) from None
        except (httpx.HTTPStatusError, httpx.TransportError) as exc:
            raise _transient(provider, "refresh", exc) from None
        if "access_token" not in token:
            raise _transient(provider, "refresh", ValueError("no access_token"))
        return _grant(token, scopes)

    def revoke(self, provider: str, token: str, hint: str) -> bool:
        """RFC 7009; False when the provider has no revocation endpoint or did not answer 200
        (the tokens are shredded here either way), or when the provider is no longer
        configured (nowhere to revoke)."""
        config = self.providers.get(provider)
        if config is None or not config.revocation_endpoint:
            return False
        try:
            with self._session(config) as session:
                answer = session.revoke_token(
                    config.revocation_endpoint, token=token, token_type_hint=hint
                )
        except (OAuthError, httpx.HTTPError) as exc:
            logger.warning("revocation at %s failed: %s", provider, type(exc).__name__)
            return False
        return bool(answer.status_code == 200)
