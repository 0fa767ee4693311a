"""A local OAuth 2.0 authorization server for the tests, built with authlib (Flask), shaped
like Google's: authorization code with PKCE (S256 required), exact redirect URIs, `iss` in
the authorization response (RFC 9207), an ID token with the account, rotating refresh tokens
with reuse detection that revokes the whole token family, and revocation (RFC 7009).

`shape="microsoft"` gives the Microsoft identity platform's shape instead (`MICROSOFT`): the
endpoints under `/{tenant}/oauth2/v2.0/{authorize,token}`, no revocation endpoint and no `iss`
in the authorization response, a refresh token only when `offline_access` was granted, an ID
token with `tid`, `oid` and `preferred_username` (no `email`), and errors whose
`error_description` starts with an AADSTS code (with `error_codes`, `trace_id`, ...).

Cairn talks to it through its production OAuth client; only the endpoints' base URL differs.
Knobs: `fail_next(n, status)` answers the next n token requests with a 503 (or any status),
`kill_grants()` makes every refresh answer `invalid_grant`, and counters tell what was asked.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server

CLIENT_ID = "cairn-test-client"
CLIENT_SECRET = "client-secret-canary-7f3a9c"
LIFETIME_S = 3600
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # the Microsoft shape's directory


@dataclass(frozen=True)
class Shape:
    name: str
    prefix: str  # where the authorize and token endpoints live
    revocation: bool  # an RFC 7009 endpoint at /revoke
    sends_iss: bool  # RFC 9207 `iss` in the authorization response
    refresh_needs: str | None  # the scope without which no refresh token is issued


GOOGLE = Shape("google", "", revocation=True, sends_iss=True, refresh_needs=None)
MICROSOFT = Shape(
    "microsoft",
    f"/{TENANT_ID}/oauth2/v2.0",
    revocation=False,
    sends_iss=False,
    refresh_needs="offline_access",
)
# What Microsoft's token endpoint says for an OAuth error: (AADSTS code, text).
AADSTS = {
    "invalid_grant": (70000, "The provided value for the 'refresh_token' or 'code' is not valid."),
    "invalid_client": (7000215, "Invalid client secret provided."),
    "invalid_request": (900144, "The request body must contain the parameter."),
}
EXPIRED_GRANT = (700082, "The refresh token has expired due to inactivity.")


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    public: bool = False  # registered dynamically (RFC 7591): PKCE, no secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match, no prefix

    def check_client_secret(self, client_secret: str) -> bool:
        return not self.public and secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str | None
    family: str
    issued_at: float = field(default_factory=time.time)
    expires_in: int = LIFETIME_S
    revoked: bool = False
    rotated: bool = False  # its refresh token was used once already

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.user

    def get_client(self) -> Client:
        raise NotImplementedError


class S256Only(CodeChallenge):  # type: ignore[misc]
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (authlib's own attribute)


class TestOAuthServer:
    """Start with `with TestOAuthServer(redirect_uri) as server:`; `server.base_url`."""

    __test__ = False

    def __init__(
        self,
        redirect_uri: str,
        account: str = "acct-1",
        email: str = "ada@example.org",
        *,
        shape: str = "google",
    ):
        self.shape = MICROSOFT if shape == "microsoft" else GOOGLE
        self.redirect_uris = [redirect_uri]
        self.account, self.email = account, email
        self.lock = threading.Lock()
        self.codes: dict[str, Code] = {}
        self.tokens: list[Token] = []
        self.refresh_calls = 0
        self.code_calls = 0
        self.revocations: list[str] = []  # token_type_hint of each revocation
        self.resources: list[str | None] = []  # `resource` of each token issued (RFC 8707)
        self.reuse_detected = 0
        self._fail: list[int] = []
        self._grants_dead = False
        # False: a refresh answers without a new refresh token (the old one stays valid), as
        # Google does.
        self.rotate = True
        self.server = make_server(
            "127.0.0.1", 0, self._app(), threaded=True, request_handler=_Handler
        )
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # Knobs and what tests read -------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        with self.lock:
            self._fail.extend([status] * count)

    def kill_grants(self) -> None:
        self._grants_dead = True

    def revive_grants(self) -> None:
        self._grants_dead = False

    def valid_access_tokens(self) -> set[str]:
        with self.lock:
            return {t.access_token for t in self.tokens if not t.revoked and not t.is_expired()}

    def live_refresh_tokens(self) -> set[str]:
        with self.lock:
            return {
                t.refresh_token
                for t in self.tokens
                if t.refresh_token and not t.revoked and not t.rotated
            }

    def every_secret(self) -> set[str]:
        """Every token and code this server handed out, and the client secret (canaries)."""
        with self.lock:
            found = {CLIENT_SECRET, *self.codes_issued}
            for t in self.tokens:
                found.add(t.access_token)
                if t.refresh_token:
                    found.add(t.refresh_token)
            return found

    def provider_entry(self, name: str = "google") -> dict[str, Any]:
        """The CAIRN_OAUTH_PROVIDERS entry pointing a provider of this server's shape here."""
        if self.shape is MICROSOFT:
            return {
                "shape": "microsoft",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorization_endpoint": f"{self.base_url}{self.shape.prefix}/authorize",
                "token_endpoint": f"{self.base_url}{self.shape.prefix}/token",
                "scopes": ["openid", "email", "offline_access", "Calendars.ReadWrite"],
            }
        return {
            "shape": "google",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorization_endpoint": f"{self.base_url}/authorize",
            "token_endpoint": f"{self.base_url}/token",
            "revocation_endpoint": f"{self.base_url}/revoke",
            "issuer": self.base_url,
            "scopes": ["openid", "email", "calendar"],
        }

    def approve(self, authorization_url: str) -> dict[str, str]:
        """What the person's browser does: consent, and read where the provider sends it."""
        import httpx

        answer = httpx.post(authorization_url, data={"consent": "allow"})
        assert answer.status_code == 302, answer.text
        location = httpx.URL(answer.headers["location"])
        return dict(location.params)

    # The server ------------------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("cairn-test-oauth")
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
            "authorization_code": LIFETIME_S,
            "refresh_token": LIFETIME_S,
        }
        self.codes_issued: set[str] = set()
        clients = self.clients = {CLIENT_ID: Client(CLIENT_ID, CLIENT_SECRET, self.redirect_uris)}

        def save_token(token: dict[str, Any], req: Any) -> None:
            old = getattr(req, "refresh_token", None)
            family = old.family if isinstance(old, Token) else uuid.uuid4().hex
            client = getattr(req, "client", None)
            with self.lock:
                self.resources.append(request.form.get("resource"))
                self.tokens.append(
                    Token(
                        client.client_id if client is not None else CLIENT_ID,
                        str(req.user),
                        str(token.get("scope", "")),
                        token["access_token"],
                        token.get("refresh_token"),
                        family,
                        expires_in=int(token.get("expires_in", LIFETIME_S)),
                    )
                )

        server = AuthorizationServer(app, query_client=clients.get, save_token=save_token)
        outer = self

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic", "none"]  # noqa: RUF012

            def save_authorization_code(self, code: str, req: Any) -> None:
                payload = req.payload
                with outer.lock:
                    outer.codes_issued.add(code)
                    outer.codes[code] = Code(
                        code,
                        req.client.client_id,
                        payload.redirect_uri,
                        payload.scope or "",
                        str(req.user),
                        payload.data.get("code_challenge"),
                        payload.data.get("code_challenge_method"),
                    )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = outer.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, code: Code) -> None:
                outer.codes.pop(code.code, None)

            def authenticate_user(self, code: Code) -> str:
                return code.user

            def generate_token(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
                needs = outer.shape.refresh_needs
                if needs and needs not in str(kwargs.get("scope") or "").split():
                    kwargs["include_refresh_token"] = False
                token: dict[str, Any] = super().generate_token(*args, **kwargs)
                return token

        class RotatingRefresh(grants.RefreshTokenGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic", "none"]  # noqa: RUF012

            @property
            def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:
                return outer.rotate

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
                with outer.lock:
                    found = next(
                        (t for t in outer.tokens if t.refresh_token == refresh_token), None
                    )
                    if found is None or found.revoked or outer._grants_dead:
                        return None
                    if found.rotated:
                        # Reuse of a rotated refresh token: the family is presumed stolen.
                        outer.reuse_detected += 1
                        for t in outer.tokens:
                            if t.family == found.family:
                                t.revoked = True
                        return None
                    return found

            def authenticate_user(self, token: Token) -> str:
                return token.user

            def revoke_old_credential(self, token: Token) -> None:
                with outer.lock:
                    token.rotated = outer.rotate

        class Revocation(RevocationEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]  # noqa: RUF012

            def query_token(self, token_string: str, hint: str | None) -> Token | None:
                with outer.lock:
                    return next(
                        (
                            t
                            for t in outer.tokens
                            if token_string in (t.access_token, t.refresh_token)
                        ),
                        None,
                    )

            def revoke_token(self, token: Token, req: Any) -> None:
                with outer.lock:
                    outer.revocations.append(req.form.get("token_type_hint") or "")
                    for t in outer.tokens:
                        if t.family == token.family:
                            t.revoked = True

        server.register_grant(CodeGrant, [S256Only(required=True)])
        server.register_grant(RotatingRefresh)
        if self.shape.revocation:
            server.register_endpoint(Revocation)
        prefix = self.shape.prefix

        @app.get(f"{prefix}/authorize")
        def consent_page() -> Response:
            try:
                server.get_consent_grant(end_user=self.account)
            except Exception as exc:  # the page says why; no redirect to an unchecked URI
                return Response(f"invalid request: {exc}", status=400)
            page = (
                "<!doctype html><title>Test provider</title><h1>Allow Cairn?</h1>"
                f'<form method="post" action="{prefix}/authorize?{request.query_string.decode()}">'
                '<button name="consent" value="allow">Allow</button>'
                '<button name="consent" value="deny">Deny</button></form>'
            )
            return Response(page, mimetype="text/html")

        @app.post(f"{prefix}/authorize")
        def consent() -> Response:
            user = self.account if request.form.get("consent") == "allow" else None
            grant = server.get_consent_grant(end_user=self.account)
            answer: Response = server.create_authorization_response(grant_user=user, grant=grant)
            location = answer.headers.get("Location")
            if location and self.shape.sends_iss:  # RFC 9207: the issuer names itself
                answer.headers["Location"] = f"{location}&{urlencode({'iss': self.base_url})}"
            return answer

        @app.post(f"{prefix}/token")
        def token() -> Response:
            with self.lock:
                grant_type = request.form.get("grant_type")
                if grant_type == "refresh_token":
                    self.refresh_calls += 1
                else:
                    self.code_calls += 1
                status = self._fail.pop(0) if self._fail else None
            if status is not None:
                return Response('{"error": "temporarily_unavailable"}', status=status)
            answer: Response = server.create_token_response()
            if grant_type == "authorization_code" and answer.status_code == 200:
                body = json.loads(answer.get_data())
                body["id_token"] = self._id_token()
                answer.set_data(json.dumps(body))
            if self.shape is MICROSOFT and answer.status_code >= 400:
                answer.set_data(json.dumps(self._aadsts(json.loads(answer.get_data()))))
            return answer

        @app.get("/.well-known/oauth-authorization-server")
        def metadata() -> Response:  # RFC 8414, for MCP servers this server guards
            base = self.base_url
            document = {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "registration_endpoint": f"{base}/register",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
                "authorization_response_iss_parameter_supported": True,
            }
            if self.shape.revocation:
                document["revocation_endpoint"] = f"{base}/revoke"
            return Response(json.dumps(document), mimetype="application/json")

        @app.post("/register")
        def register() -> Response:  # RFC 7591, public clients only
            body = request.get_json(force=True)
            client = Client(uuid.uuid4().hex, "", list(body["redirect_uris"]), public=True)
            with self.lock:
                clients[client.client_id] = client
            answer = {
                "client_id": client.client_id,
                "redirect_uris": client.redirect_uris,
                "token_endpoint_auth_method": "none",
            }
            return Response(json.dumps(answer), status=201, mimetype="application/json")

        if self.shape.revocation:

            @app.post("/revoke")
            def revoke() -> Response:
                answer: Response = server.create_endpoint_response("revocation")
                return answer

        return app

    def _aadsts(self, body: dict[str, Any]) -> dict[str, Any]:
        """An OAuth error as Microsoft's token endpoint words it."""
        error = str(body.get("error", "invalid_request"))
        code, text = EXPIRED_GRANT if self._grants_dead else AADSTS.get(error, (90014, "?"))
        trace = uuid.uuid4()
        return {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: {trace}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(trace),
            "correlation_id": str(uuid.uuid4()),
        }

    def _id_token(self) -> str:
        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        now = int(time.time())
        claims: dict[str, Any] = {"aud": CLIENT_ID, "iat": now, "exp": now + LIFETIME_S}
        if self.shape is MICROSOFT:
            # `sub` is pairwise (per application); `oid` names the person in the directory.
            claims |= {
                "iss": f"{self.base_url}/{TENANT_ID}/v2.0",
                "sub": f"pairwise-{self.account}",
                "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.account)),
                "tid": TENANT_ID,
                "preferred_username": self.email,
                "name": "Ada Lovelace",
                "ver": "2.0",
            }
        else:
            claims |= {"iss": self.base_url, "sub": self.account, "email": self.email}
        return f"{part({'alg': 'none'})}.{part(claims)}."

    def __enter__(self) -> TestOAuthServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.thread.join(5)


class _Handler(WSGIRequestHandler):
    disable_nagle_algorithm = True

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # the request line holds codes; tests read counters, not access logs
