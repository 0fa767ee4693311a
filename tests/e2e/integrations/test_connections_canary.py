"""Canaries: no access or refresh token, authorization code or client secret appears in any
event, log line or error body, through the whole life of a connection over the API (connect,
refused callbacks, refresh, a provider that is down, a dead grant, disconnect)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from commands.ports.connections import ReauthNeeded
from commands.settings import CairnSettings
from domain.errors import Unavailable
from tests.support.in_process import Cairn, Person
from tests.support.oauth_server import CLIENT_SECRET, TestOAuthServer

pytestmark = pytest.mark.e2e
# The test provider's own server side (authlib's grants, Flask) logs what it issues: it is
# the provider's log, not Cairn's.
# The test's own "browser" and SDK (httpx over httpcore) are the person's side, not Cairn's;
# Cairn's OAuth client speaks httpx2 over httpcore2, whose lines are checked.
PROVIDER_LOGGERS = ("authlib.oauth2.rfc", "authlib.integrations.flask", "werkzeug")
CLIENT_LOGGERS = ("httpx", "httpcore.")


@pytest.fixture
def oauth() -> Iterator[TestOAuthServer]:
    with TestOAuthServer("http://localhost/console/connections-callback.html") as server:
        yield server


@pytest.fixture
def cairn_settings(cairn_settings: CairnSettings, oauth: TestOAuthServer) -> CairnSettings:
    import dataclasses

    oauth.redirect_uris[:] = [f"{cairn_settings.origins[0]}/console/connections-callback.html"]
    return dataclasses.replace(cairn_settings, oauth_providers={"google": oauth.provider_entry()})


def _start(cairn: Cairn, ada: Person) -> dict[str, str]:
    started = cairn.client.post("/v1/connections/google/connect", json={}, headers=ada.headers)
    assert started.status_code == 200, started.text
    return dict(httpx.URL(started.json()["authorization_url"]).params)


def test_no_secret_reaches_an_event_a_log_line_or_an_error_body(
    cairn: Cairn,
    oauth: TestOAuthServer,
    cairn_settings: CairnSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = cairn.sign_up("canary")
    bodies: list[str] = []

    def callback(params: dict[str, str]) -> tuple[int, dict[str, object]]:
        answer = cairn.client.post("/v1/connections/callback", json=params, headers=ada.headers)
        bodies.append(answer.text)
        return answer.status_code, answer.json()

    # Refused: another issuer (RFC 9207), a state used twice, a code the provider refuses.
    asked = _start(cairn, ada)
    params = oauth.approve(f"{oauth.base_url}/authorize?{httpx.QueryParams(asked)}")
    status, body = callback({**params, "iss": "https://evil.example"})
    assert (status, body["error"]["code"]) == (400, "oauth_issuer_mismatch")  # type: ignore[index]
    status, body = callback(params)
    assert (status, body["error"]["code"]) == (400, "oauth_state_invalid")  # type: ignore[index]
    _start(cairn, ada)
    asked = _start(cairn, ada)
    params = oauth.approve(f"{oauth.base_url}/authorize?{httpx.QueryParams(asked)}")
    status, body = callback({**params, "code": params["code"] + "x"})
    assert (status, body["error"]["code"]) == (400, "oauth_authorization_failed")  # type: ignore[index]

    # Connected.
    asked = _start(cairn, ada)
    params = oauth.approve(f"{oauth.base_url}/authorize?{httpx.QueryParams(asked)}")
    assert callback(params)[0] == 202
    listed = cairn.client.get("/v1/connections", headers=ada.headers)
    bodies.append(listed.text)
    assert listed.json()["connections"][0]["health"] == "ok"

    # Refreshed, then the provider down, then the grant dead.
    connections = cairn.services.connections
    assert connections is not None
    tenant, person = ada.session["tenant_id"], ada.session["user_id"]

    def expire() -> None:
        with psycopg.connect(cairn_settings.database_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE connection_tokens SET expires_at = now() - interval '1 minute',"
                " retry_at = NULL"
            )

    expire()
    connections.tokens.access_token(tenant, person, "google")
    expire()
    oauth.fail_next(1, 503)
    with pytest.raises(Unavailable) as down:
        connections.tokens.access_token(tenant, person, "google")
    bodies.append(repr(down.value) + str(down.value.details))
    expire()
    oauth.kill_grants()
    with pytest.raises(ReauthNeeded) as dead:
        connections.tokens.access_token(tenant, person, "google")
    bodies.append(repr(dead.value) + str(dead.value.details))
    listed = cairn.client.get("/v1/connections", headers=ada.headers)
    bodies.append(listed.text)
    assert listed.json()["connections"][0]["health"] == "reauth_required"

    gone = cairn.client.post("/v1/connections/google/disconnect", headers=ada.headers)
    bodies.append(gone.text)
    assert gone.status_code == 202

    canaries = oauth.every_secret()
    assert CLIENT_SECRET in canaries and len(canaries) >= 6
    stored = connections.app.recorder.select_notifications(start=1, limit=100_000)
    events = b"".join(n.state for n in stored)
    assert b"refresh_token_rotated" in events and b"invalid_grant" in events
    lines = [
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(PROVIDER_LOGGERS)
        and not (r.name == "httpx" or r.name.startswith(CLIENT_LOGGERS[1]))
    ]
    assert lines  # the flows above did log (refresh failures, the dead grant)
    for canary in canaries:
        assert canary.encode() not in events
        assert not [line for line in lines if canary in line]
        assert not [body for body in bodies if canary in body]
