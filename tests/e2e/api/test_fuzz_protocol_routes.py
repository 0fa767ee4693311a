"""No request to the routes outside the OpenAPI document gets a 5xx: the OAuth protocol
endpoints (registration's JSON, authorization's query, the token and revocation forms), the
MCP endpoint's JSON-RPC (with and without a token), the console's pages and the metadata
documents, the WebSocket's first message, and hostile header values on the API's routes.

The OpenAPI fuzz (test_fuzz_no_server_error.py) cannot see these: they answer the protocols'
own shapes. Generated values mix plain text with what no store can keep (NUL characters,
lone surrogates), huge, nested and mistyped values; a bounded number of each, so the suite
stays fast. `derandomize`: the same requests every run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.websockets import WebSocketDisconnect

from tests.e2e.api.settled import settled
from tests.e2e.mcp.test_oauth_flow import HOST, REDIRECT, pkce, register, signed_in_client
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e

EXAMPLES = 60  # per route family
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.generate],  # a failure is reported as found, not shrunk
    suppress_health_check=list(HealthCheck),
)
# What no store can keep, and sizes and shapes no parameter expects.
HOSTILE = ["", "\x00", "a\x00b", "\ud800", "x" * 5000, "-1", "9" * 400, "null", "é" * 300]
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE))
SCALAR = st.one_of(
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
JSONISH = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
REGISTRATION_KEYS = [
    "client_name",
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "scope",
    "client_uri",
]
FORM_KEYS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "resource",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
]
MCP_METHODS = ["initialize", "tools/list", "tools/call", "ping", "notifications/initialized"]
MCP_TOOLS = ["list_runs", "get_run", "submit_intent", "approve_run", "invoke_action"]
HEADER_NAMES = [
    "Authorization",
    "Idempotency-Key",
    "Last-Event-ID",
    "X-Request-ID",
    "traceparent",
    "Origin",
    "Content-Type",
    "Accept",
    "X-Forwarded-For",
]
# Printable Latin-1: what an HTTP header value can carry.
HEADER_TEXT = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")),
    st.sampled_from(["x" * 9000, "Bearer ", "Bearer x.y.z", "-1", "9" * 30]),
)
JSON_TYPE = {"Content-Type": "application/json"}
API_ROUTES = [("GET", "/v1/me"), ("POST", "/v1/intents"), ("GET", "/v1/runs"), ("POST", "/mcp")]


def _unlimited(cairn: Cairn) -> Cairn:
    cairn.lift_rate_limits("protocol-fuzz-rl")
    return cairn


def _no_server_error(send: Callable[[], Any], request: str) -> None:
    """No 5xx; a 503 with `Retry-After` that clears when sent again passes (settled.py)."""
    response = settled(send)
    assert response.status_code < 500, f"{request} -> {response.status_code}: {response.text[:300]}"


def _json(value: Any) -> bytes:
    """JSON as a client may write it: a lone surrogate escaped, as the client sent it."""
    return json.dumps(value).encode()


def _wire(text: str) -> str:
    """A text as a URL or a form carries it (UTF-8 bytes, read back one byte a character)."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


@pytest.mark.long(30)
def test_oauth_and_mcp_endpoints_get_no_server_error(served: Cairn) -> None:
    cairn = _unlimited(served)
    client_id = register(cairn).json()["client_id"]
    _, challenge = pkce()
    _, tokens = signed_in_client(cairn, cairn.sign_up("protocols"))
    failures: list[str] = []

    @BOUNDED
    @given(
        st.one_of(
            JSONISH, st.fixed_dictionaries({}, optional=dict.fromkeys(REGISTRATION_KEYS, JSONISH))
        )
    )
    def registration(body: Any) -> None:
        _no_server_error(
            lambda: cairn.client.post("/oauth/register", content=_json(body), headers=JSON_TYPE),
            f"POST /oauth/register {body!r:.300}",
        )

    @BOUNDED
    @given(
        st.sampled_from([client_id, "mcp_unknown"]) | TEXT,
        st.fixed_dictionaries({}, optional={k: TEXT for k in FORM_KEYS if k != "client_id"}),
    )
    def authorization(client: str, query: dict[str, str]) -> None:
        valid = {"response_type": "code", "redirect_uri": REDIRECT, "code_challenge": challenge}
        params = {k: _wire(v) for k, v in {**valid, "client_id": client, **query}.items()}
        _no_server_error(
            lambda: cairn.client.get("/oauth/authorize", params=params, follow_redirects=False),
            f"GET /oauth/authorize {params!r:.300}",
        )

    @BOUNDED
    @given(st.dictionaries(st.sampled_from(FORM_KEYS) | TEXT, TEXT, max_size=6))
    def token_forms(form: dict[str, str]) -> None:
        data = {_wire(k): _wire(v) for k, v in form.items()}
        for path in ("/oauth/token", "/oauth/revoke"):
            _no_server_error(
                partial(cairn.client.post, path, data=data), f"POST {path} {data!r:.300}"
            )

    call = st.fixed_dictionaries(
        {"jsonrpc": st.just("2.0") | SCALAR, "method": st.sampled_from(MCP_METHODS) | TEXT},
        optional={
            "id": SCALAR,
            "params": JSONISH
            | st.fixed_dictionaries(
                {"name": st.sampled_from(MCP_TOOLS) | TEXT},
                optional={"arguments": JSONISH, "_meta": JSONISH},
            ),
        },
    )

    @BOUNDED
    @given(st.one_of(call, st.lists(call, max_size=3), JSONISH), st.booleans())
    def mcp(body: Any, signed: bool) -> None:
        headers = {
            "Host": HOST,
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if signed:
            headers["Authorization"] = f"Bearer {tokens['access_token']}"
        _no_server_error(
            lambda: cairn.client.post("/mcp", content=_json(body), headers=headers),
            f"POST /mcp signed={signed} {body!r:.300}",
        )

    @BOUNDED
    @given(
        st.sampled_from(
            [
                "/",
                "/device",
                "/.well-known/oauth-authorization-server",
                "/.well-known/oauth-protected-resource/mcp",
            ]
        ),
        st.dictionaries(TEXT, TEXT, max_size=3),
    )
    def pages(path: str, query: dict[str, str]) -> None:
        params = {_wire(k): _wire(v) for k, v in query.items()}
        _no_server_error(
            lambda: cairn.client.get(path, params=params, headers={"Host": HOST}),
            f"GET {path} {params!r:.300}",
        )

    for family in (registration, authorization, token_forms, mcp, pages):
        try:
            family()
        except AssertionError as error:
            failures.append(f"{family.__name__}: {error}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.long(15)
def test_each_protocol_parameter_with_each_hostile_value_gets_no_server_error(
    served: Cairn,
) -> None:
    """Every parameter in turn, the others valid: what random generation may miss."""
    cairn = _unlimited(served)
    client_id = register(cairn).json()["client_id"]
    _, challenge = pkce()
    failures: list[str] = []

    def check(send: Callable[[], Any], request: str) -> None:
        try:
            _no_server_error(send, request)
        except AssertionError as error:
            failures.append(str(error))

    authorization = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "runs:read",
    }
    token = {"grant_type": "authorization_code", "client_id": client_id, "code": "cac1.a.b"}
    registration: dict[str, Any] = {"client_name": "Agent", "redirect_uris": [REDIRECT]}
    authorize = partial(cairn.client.get, "/oauth/authorize", follow_redirects=False)
    for value in HOSTILE:
        wired = _wire(value)
        for name in [*authorization, "resource"]:
            params = {**authorization, name: wired}
            check(partial(authorize, params=params), f"GET /oauth/authorize {name}={value!r:.40}")
        for name in [*token, "refresh_token", "code_verifier", "redirect_uri", "token"]:
            for path, form in (("/oauth/token", token), ("/oauth/revoke", {"token": "x"})):
                request = f"POST {path} {name}={value!r:.40}"
                check(partial(cairn.client.post, path, data={**form, name: wired}), request)
        for name in [*registration, *REGISTRATION_KEYS]:
            for shaped in (value, [value], [{"x": value}]):
                body = _json({**registration, name: shaped})
                check(
                    partial(cairn.client.post, "/oauth/register", content=body, headers=JSON_TYPE),
                    f"POST /oauth/register {name}={shaped!r:.40}",
                )
    assert not failures, "\n".join(failures)


@pytest.mark.long(10)
def test_hostile_header_values_get_no_server_error(served: Cairn) -> None:
    cairn = _unlimited(served)
    person = cairn.sign_up("headers")

    @BOUNDED
    @given(st.sampled_from(HEADER_NAMES), HEADER_TEXT, st.sampled_from(API_ROUTES), st.booleans())
    def check(name: str, value: str, route: tuple[str, str], signed: bool) -> None:
        headers = {k.encode(): v.encode() for k, v in person.headers.items()} if signed else {}
        headers[name.encode()] = value.encode("latin-1")
        method, path = route
        body = b'{"text": "hello"}' if method == "POST" else None
        _no_server_error(
            lambda: cairn.client.request(method, path, headers=headers, content=body),
            f"{method} {path} {name}: {value!r:.200} (signed: {signed})",
        )

    check()


@pytest.mark.long(10)
def test_a_hostile_first_websocket_message_is_refused_with_its_reason(served: Cairn) -> None:
    cairn = _unlimited(served)
    refusal = st.fixed_dictionaries(
        {"type": st.just("auth")}, optional={"access_token": JSONISH, "last_event_id": JSONISH}
    )
    printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)

    @BOUNDED
    @given(
        JSONISH | refusal,
        st.dictionaries(st.sampled_from(["last_event_id", "run_id"]), printable, max_size=2),
    )
    def check(first: Any, query: dict[str, str]) -> None:
        path = "/v1/ws" + (f"?{urlencode(query)}" if query else "")
        with cairn.client.websocket_connect(path) as socket:
            socket.send_text(_json(first).decode())
            try:
                closed = socket.receive_json()
                assert closed["type"] == "closed" and closed["error"]["code"], closed
                socket.receive_text()
            except WebSocketDisconnect as ended:
                # 4000 + the HTTP status of the refusal (401, 400, ...), never a server error.
                assert 4400 <= ended.code < 4500, (ended.code, first, query)

    check()
