"""Short-lived access tokens: JWTs signed by Cairn, verified on every request.

Header: `typ: at+jwt` (RFC 9068, so no other JWT Cairn signs can pass as one), `alg` fixed by
the key (Ed25519 or ES256), `kid`. Claims: iss, aud, sub (user), tid (tenant), sid (session),
did (device), iat, exp, jti, auth_time, scope (space-separated, RFC 9068). A valid signature is
not enough on its own: callers also ask the session store whether `sid` is still active (see
`PostgresSessions`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jws import JWSRegistry
from joserfc.jwt import ClaimsOption

from adapters.tokens.errors import StepUpRequired, TokenExpired, TokenInvalid
from adapters.tokens.keys import JoseKey, TokenKeys
from commands.ports.sessions import AccessClaims
from domain.identity.scopes import FIRST_PARTY_SCOPES
from domain.storable import unstorable

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
DEFAULT_ISSUER = "cairn"
DEFAULT_AUDIENCE = "cairn-api"
DEFAULT_ACCESS_TTL_S = 600
DEFAULT_STEP_UP_MAX_AGE_S = 300
_STRING_CLAIMS = ("iss", "aud", "sub", "tid", "sid", "did", "jti")
_TIME_CLAIMS = ("iat", "exp", "auth_time")
# Only the algorithms of Cairn's own key types are known to the parser at all, so "none",
# HMAC (the classic public-key-as-secret confusion) and RSA are refused before any key is used.
_REGISTRY = JWSRegistry(algorithms=["Ed25519", "ES256"])


class _KidNotAccepted(Exception):
    pass


def _usable(claim: object) -> bool:
    return isinstance(claim, str) and bool(claim) and unstorable(claim) is None


class AccessTokens:
    """Issue and verify access tokens; `clock` returns seconds since the epoch."""

    def __init__(
        self,
        keys: TokenKeys,
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        ttl_s: int = DEFAULT_ACCESS_TTL_S,
        leeway_s: int = 5,
        clock: Callable[[], float] = time.time,
        remember: int = 10_000,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self.leeway_s = leeway_s
        self.clock = clock
        # Tokens whose signature and claims were checked, by their exact text: a client sends
        # the same token for its whole lifetime, and the signature check was most of the
        # CPU a cached authentication costs (decision 0010). Only expiry changes with time.
        # At most `remember` of them (0: verify every time).
        self._verified: dict[str, AccessClaims] = {}
        self.remember = remember

    def issue(
        self,
        *,
        tenant: str,
        user_id: str,
        session_id: str,
        device_id: str,
        auth_time: int,
        scopes: Sequence[str] = FIRST_PARTY_SCOPES,
    ) -> str:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "tid": tenant,
            "sid": session_id,
            "did": device_id,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "auth_time": auth_time,
            "scope": " ".join(scopes),
        }
        header = {"alg": self.keys.signing_alg, "kid": self.keys.signing_kid}
        return jwt.encode(
            header,
            claims,
            self.keys.signing_key,
            algorithms=[self.keys.signing_alg],
            registry=_REGISTRY,
            default_type=ACCESS_TOKEN_TYPE,
        )

    def _key_for(self, token: Any) -> JoseKey:
        """The one key named by `kid`, and only for the algorithm that key was made for."""
        header = token.headers()
        entry = self.keys.verification.get(header.get("kid", ""))
        if entry is None or header.get("alg") != entry.alg:
            raise _KidNotAccepted
        return entry.key

    def verify_access_token(self, token: str) -> AccessClaims:
        known = self._verified.get(token)
        if known is not None:  # the time checks of `_verify` again, with today's time
            now = int(self.clock())
            if now >= known.expires_at + self.leeway_s:
                raise TokenExpired("the access token has expired; refresh it")
            if known.issued_at > now + self.leeway_s:
                raise TokenInvalid("the access token is not valid")
            return known
        claims = self._verify(token)
        if self.remember > 0:
            if len(self._verified) >= self.remember:
                self._verified.clear()  # crude, but bounded: each token is verified again once
            self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            decoded = jwt.decode(token, self._key_for, registry=_REGISTRY)
        except (JoseError, _KidNotAccepted, ValueError) as exc:
            raise TokenInvalid("the access token is not valid") from exc
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            raise TokenInvalid("the access token is not valid")
        claims = decoded.claims
        options: dict[str, ClaimsOption] = {
            name: {"essential": True} for name in (*_STRING_CLAIMS, *_TIME_CLAIMS)
        }
        options["iss"] = {"essential": True, "value": self.issuer}
        options["aud"] = {"essential": True, "value": self.audience}
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()), leeway=self.leeway_s, **options
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise TokenExpired("the access token has expired; refresh it") from exc
        except JoseError as exc:
            raise TokenInvalid("the access token is not valid") from exc
        # Claims become database values (the tenant of a transaction): storable text only.
        if not all(_usable(claims[name]) for name in _STRING_CLAIMS) or (
            not all(type(claims[name]) is int for name in _TIME_CLAIMS)
        ):
            raise TokenInvalid("the access token is not valid")
        scope = claims.get("scope", "")
        if not isinstance(scope, str) or (scope and not _usable(scope)):
            raise TokenInvalid("the access token is not valid")
        return AccessClaims(
            issuer=claims["iss"],
            audience=claims["aud"],
            user_id=claims["sub"],
            tenant=claims["tid"],
            session_id=claims["sid"],
            device_id=claims["did"],
            issued_at=claims["iat"],
            expires_at=claims["exp"],
            token_id=claims["jti"],
            auth_time=claims["auth_time"],
            scopes=tuple(scope.split()),
        )

    def is_fresh(self, claims: AccessClaims, max_age_s: int = DEFAULT_STEP_UP_MAX_AGE_S) -> bool:
        return int(self.clock()) - claims.auth_time <= max_age_s

    def require_fresh(
        self, claims: AccessClaims, max_age_s: int = DEFAULT_STEP_UP_MAX_AGE_S
    ) -> None:
        if not self.is_fresh(claims, max_age_s):
            raise StepUpRequired(
                "this action needs a fresh passkey assertion (step-up)",
                {"max_age_s": max_age_s},
            )
