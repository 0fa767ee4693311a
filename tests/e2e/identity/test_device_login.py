"""`cairn login`'s device authorization grant (RFC 8628) end to end over HTTP, through the
SDK: the device polls, the person approves the user code with a passkey bound to that code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clients.sdk import BadRequest, Conflict, NotAuthenticated, calls
from clients.sdk.device import DeviceLoginFailed, approve_device, deny_device, device_login
from clients.sdk.models import DeviceAuthorization
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e


class Clock:
    """The server's clock, moved by the device's sleeps (no test waits for real)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(cairn: Cairn) -> Clock:
    clock = Clock()
    # IdentityPorts is frozen; the test swaps the clock its handlers read.
    object.__setattr__(cairn.services.identity, "clock", clock)
    return clock


def test_a_device_signs_in_once_the_person_approves_its_code_with_a_passkey(
    cairn: Cairn, clock: Clock
) -> None:
    ada = cairn.sign_up("device")
    shown: list[DeviceAuthorization] = []
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        # The second wait is cut short: the device polls too early and is slowed down.
        clock.now += timedelta(seconds=1 if len(slept) == 2 else seconds)
        if len(slept) == 4:
            approve_device(ada.sdk, shown[0].user_code.lower(), ada.authenticator)

    terminal = cairn.sdk()
    session = device_login(terminal, shown.append, sleep=sleep, device_name="terminal")
    code = shown[0]
    assert code.verification_uri.endswith("/device")
    assert code.verification_uri_complete.endswith(f"?user_code={code.user_code}")
    assert (code.expires_in, code.interval) == (600, 5)
    # Polls answered: pending, slow_down (+5 s), pending, then the session once approved.
    assert slept == [5, 5, 10, 10]
    assert (session.tenant_id, session.user_id) == (
        ada.session["tenant_id"],
        ada.session["user_id"],
    )
    assert session.device_id != ada.session["device_id"]
    me = terminal.me()
    devices = {d["device_id"]: d["name"] for d in me["devices"]}
    assert devices[session.device_id] == "terminal"
    # The code is used up; the device is Ada's like any other: revoking it ends its session.
    with pytest.raises(BadRequest) as again:
        terminal.call(calls.redeem_device_code(code.device_code, "again"))
    assert again.value.code == "invalid_grant"
    cairn.step_up(ada)
    ada.sdk.revoke_device(session.device_id)
    with pytest.raises(NotAuthenticated):
        terminal.me()
    events = ada.sdk.security_events(limit=20)["items"]
    kinds = [(e["kind"], e["outcome"]) for e in events]
    assert ("device_authorization", "approved") in kinds
    logins = [e for e in events if e["kind"] == "login" and e["device_id"] == session.device_id]
    assert [e["details"].get("grant") for e in logins] == ["device_code"]


def start(cairn: Cairn) -> DeviceAuthorization:
    return cairn.sdk().call(calls.request_device_authorization("cairn CLI"))


def poll_code(cairn: Cairn, code: DeviceAuthorization) -> str:
    with pytest.raises(BadRequest) as answer:
        cairn.sdk().call(calls.redeem_device_code(code.device_code, "terminal"))
    return answer.value.code


def test_a_denied_code_is_access_denied_and_cannot_then_be_approved(
    cairn: Cairn, clock: Clock
) -> None:
    ada = cairn.sign_up("denied")
    code = start(cairn)
    deny_device(ada.sdk, code.user_code)
    assert poll_code(cairn, code) == "access_denied"
    with pytest.raises(Conflict) as late:
        approve_device(ada.sdk, code.user_code, ada.authenticator)
    assert late.value.code in ("device_code_decided", "user_code_not_found")

    def sleep(seconds: float) -> None:
        clock.now += timedelta(seconds=seconds)
        deny_device(ada.sdk, shown[0].user_code)

    shown: list[DeviceAuthorization] = []
    with pytest.raises(DeviceLoginFailed) as failed:
        device_login(cairn.sdk(), shown.append, sleep=sleep)
    assert failed.value.code == "access_denied"


def test_an_expired_code_is_expired_token_and_cannot_be_approved(
    cairn: Cairn, clock: Clock
) -> None:
    ada = cairn.sign_up("expired")
    code = start(cairn)
    clock.now += timedelta(seconds=code.expires_in + 1)
    assert poll_code(cairn, code) == "expired_token"
    with pytest.raises(Exception) as late:
        approve_device(ada.sdk, code.user_code, ada.authenticator)
    assert getattr(late.value, "code", None) == "user_code_not_found"


def test_an_approval_is_bound_to_its_code(cairn: Cairn, clock: Clock) -> None:
    ada: Person = cairn.sign_up("bound")
    first, second = start(cairn), start(cairn)
    begun = ada.sdk.call(calls.begin_device_approval(first.user_code))
    assert begun.client_name == "cairn CLI" and begun.user_code == first.user_code
    assertion = ada.authenticator.get(begun.options)
    with pytest.raises(NotAuthenticated) as refused:
        ada.sdk.call(
            calls.approve_device_code(second.user_code, begun.ceremony_id, assertion, None)
        )
    assert refused.value.code == "passkey_plan_mismatch"
    assert poll_code(cairn, second) == "authorization_pending"
    with pytest.raises(NotAuthenticated):  # no one signed in: no approval at all
        cairn.sdk().call(calls.begin_device_approval(first.user_code))
