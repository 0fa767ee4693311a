"""Cloud Pub/Sub push authentication: the OIDC token Google signs for each push (decision 0034).

A push subscription configured with a service account sends `Authorization: Bearer <JWT>`,
RS256-signed with one of Google's keys (the JWKS at `<googleapis>/oauth2/v3/certs`), with the
audience the subscription names, `iss` Google's accounts, and `email` the service account.
All of it is checked here; the token does not cover the body, so what a push says is only a
hint (commands/integrations/mail_sync.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import ClaimsOption

from commands.ports.mail_sync import PushRejected

logger = logging.getLogger("cairn.integrations.pubsub")

CERTS_PATH = "/oauth2/v3/certs"
GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"]
# Google signs these tokens with RS256 only: "none", HMAC and every other algorithm are
# refused before any key is looked at.
_REGISTRY = JWSRegistry(algorithms=["RS256"])


def gmail_push_verifier(
    google_base_url: str | None, webhook_base_url: str, service_account: str
) -> GoogleOidcVerifier | None:
    """The check of Gmail's push: Google's keys under its API's base URL (the tests' fake
    Google serves them), the push address as the audience (Pub/Sub's default). None without a
    service account or a public address: every push is refused."""
    if not service_account or not webhook_base_url:
        return None
    google = (google_base_url or "https://www.googleapis.com").rstrip("/")
    audience = webhook_base_url.rstrip("/") + "/v1/integrations/webhooks/gmail"
    return GoogleOidcVerifier(google + CERTS_PATH, audience, service_account)


class _UnknownKey(Exception):
    pass


class GoogleOidcVerifier:
    """Implements `PushVerifier`. Google's keys are fetched once and again after
    `keys_ttl_s`, or sooner for a `kid` not seen yet (at most every `refetch_s`: a stream of
    forged `kid`s must not become a stream of fetches)."""

    def __init__(
        self,
        jwks_url: str,
        audience: str,
        service_account: str,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        leeway_s: int = 30,
        keys_ttl_s: float = 3600.0,
        refetch_s: float = 60.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.audience = audience
        self.service_account = service_account
        self.http = http or httpx.Client(follow_redirects=False, timeout=10.0)
        self.clock = clock
        self.leeway_s = leeway_s
        self.keys_ttl_s = keys_ttl_s
        self.refetch_s = refetch_s
        self._keys: dict[str, RSAKey] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def verify(self, authorization: str | None) -> None:
        if not self.audience or not self.service_account:
            raise PushRejected("Gmail push is not configured")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PushRejected("no bearer token")
        try:
            decoded = jwt.decode(token.strip(), self._key_for, registry=_REGISTRY)
            options: dict[str, ClaimsOption] = {
                "iss": {"essential": True, "values": GOOGLE_ISSUERS},
                "aud": {"essential": True, "value": self.audience},
                "email": {"essential": True, "value": self.service_account},
                "email_verified": {"essential": True, "value": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
            }
            registry = jwt.JWTClaimsRegistry(
                now=lambda: int(self.clock()), leeway=self.leeway_s, **options
            )
            registry.validate(decoded.claims)
        except (JoseError, _UnknownKey, ValueError) as exc:
            raise PushRejected(type(exc).__name__) from None

    def _key_for(self, token: Any) -> RSAKey:
        kid = token.headers().get("kid")
        if not isinstance(kid, str) or not kid:
            raise _UnknownKey
        with self._lock:
            age = self.clock() - self._fetched_at
            if age > self.keys_ttl_s or (kid not in self._keys and age > self.refetch_s):
                self._fetch()
            key = self._keys.get(kid)
        if key is None:
            raise _UnknownKey
        return key

    def _fetch(self) -> None:
        self._fetched_at = self.clock()
        try:
            answer = self.http.get(self.jwks_url)
            answer.raise_for_status()
            keys = KeySet.import_key_set(answer.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            # The keys fetched before stay in use; a push signed with a new one is refused
            # (Pub/Sub delivers it again later).
            logger.warning("Google's signing keys could not be fetched: %s", type(exc).__name__)
            return
        self._keys = {
            str(k.kid): k for k in keys if isinstance(k, RSAKey) and k.kid and not k.is_private
        }
