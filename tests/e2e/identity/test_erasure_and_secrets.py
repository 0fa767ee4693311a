"""GDPR erasure in an append-only store, and no secret in plaintext anywhere."""

from __future__ import annotations

import logging
from uuid import UUID

import pyotp
import pytest

from commands.ports.vault import ERASED
from domain.identity.user import User
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def _stream_bytes(cairn: Cairn) -> bytes:
    recorder = cairn.services.identity.app.recorder
    chunks: list[bytes] = []
    start = 1
    while page := recorder.select_notifications(start=start, limit=500):
        chunks.extend(n.state + n.topic.encode() for n in page)
        start = page[-1].id + 1
    return b"\n".join(chunks)


def test_erased_users_personal_fields_are_unreadable_and_the_stream_intact(
    cairn: Cairn,
) -> None:
    ada = cairn.sign_up("erasure", email="ada@example.com", name="Ada Lovelace")
    token = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "carol@example.com"}
    ).json()["invitation_token"]
    carol = cairn.accept(token, "Carol Shaw")
    carol_id = UUID(carol.session["user_id"])
    app = cairn.services.identity.app
    vault = cairn.services.identity.vault
    before = list(app.recorder.select_events(carol_id))

    erased = cairn.client.post(f"/v1/users/{carol_id}/erase", headers=ada.headers)
    assert erased.status_code == 202, erased.text

    after = list(app.recorder.select_events(carol_id))
    assert after[: len(before)] == before  # nothing rewritten
    assert [app.mapper.to_domain_event(e).__class__.__name__ for e in after[len(before) :]] == [
        "UserErased"
    ]
    registered = app.mapper.to_domain_event(after[0])
    tenant = str(registered.tenant_id)  # type: ignore[attr-defined]
    assert vault.open_personal(tenant, registered.email_sealed, "email") is ERASED  # type: ignore[attr-defined]
    assert vault.open_personal(tenant, registered.display_name_sealed, "display_name") is ERASED  # type: ignore[attr-defined]
    replayed: object = app.repository.get(carol_id)
    assert isinstance(replayed, User) and replayed.erased
    assert replayed.tenant_id == UUID(tenant)
    # Carol's sessions ended; Ada is untouched.
    assert cairn.client.get("/v1/me", headers=carol.headers).status_code == 401
    me = cairn.client.get("/v1/me", headers=ada.headers).json()
    assert me["email"] == "ada@example.com"
    admin_view = cairn.client.get(f"/v1/users/{carol_id}", headers=ada.headers).json()
    assert admin_view["email"] == "[erased]" and admin_view["display_name"] == "[erased]"


def test_no_secret_in_plaintext_in_stream_logs_or_errors(
    cairn: Cairn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = cairn.sign_up("secrets", email="ada.secret@example.com", name="Ada Secretname")
    token = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "bob.secret@example.com"}
    ).json()["invitation_token"]
    bob = cairn.accept(token, "Bob Secretname")
    enrol = cairn.client.post("/v1/totp/enrol", headers=bob.headers)
    assert enrol.status_code == 200, enrol.text
    totp_secret = enrol.json()["secret"]
    confirm = cairn.client.post(
        "/v1/totp/confirm", headers=bob.headers, json={"code": pyotp.TOTP(totp_secret).now()}
    )
    assert confirm.status_code == 202, confirm.text
    rotated = cairn.client.post(
        "/v1/auth/refresh", json={"refresh_token": bob.session["refresh_token"]}
    ).json()
    errors = [
        cairn.client.post(
            "/v1/auth/refresh", json={"refresh_token": bob.session["refresh_token"]}
        ).text,
        cairn.client.post(
            "/v1/invitations/accept/begin", json={"invitation_token": token, "display_name": "x"}
        ).text,
        cairn.client.get(
            "/v1/me", headers={"Authorization": "Bearer " + rotated["access_token"][:-4] + "AAAA"}
        ).text,
    ]
    secrets = [
        "ada.secret@example.com",
        "Ada Secretname",
        "bob.secret@example.com",
        "Bob Secretname",
        totp_secret,
        token,
        ada.session["refresh_token"],
        bob.session["refresh_token"],
        rotated["refresh_token"],
        ada.session["access_token"],
    ]
    stream = _stream_bytes(cairn)
    logs = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret.encode() not in stream, f"{secret[:6]}… in the event stream"
        assert secret not in logs, f"{secret[:6]}… in the logs"
        for body in errors:
            assert secret not in body, f"{secret[:6]}… in an error body"
