"""Signing a device in with the OAuth 2.0 device authorization grant (RFC 8628 §3.4-3.5):
ask for codes, show them, poll at the server's pace until the person decides."""

from __future__ import annotations

import time
from collections.abc import Callable

from clients.sdk import calls
from clients.sdk import models as m
from clients.sdk.client import Cairn
from clients.sdk.errors import BadRequest, CairnError
from clients.sdk.passkeys import Authenticator

SLOW_DOWN_STEP_S = 5


class DeviceLoginFailed(CairnError):
    """The person denied the device (`access_denied`), or the code expired
    (`expired_token`) or was refused (`invalid_grant`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def device_login(
    cairn: Cairn,
    show: Callable[[m.DeviceAuthorization], None],
    *,
    client_name: str = "cairn CLI",
    device_name: str = "cairn CLI",
    scope: str = "",
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[int], None] | None = None,
) -> m.Session:
    """Sign `cairn` in: `show` gets the codes to display; returns the new session (the client
    then holds its tokens). Polls every `interval` seconds, slower after `slow_down`. `scope`:
    what to ask for beyond the delegated default (RFC 8628 `scope`, space-separated)."""
    started = cairn.call(calls.request_device_authorization(client_name, scope))
    show(started)
    interval = started.interval
    polls = 0
    while True:
        sleep(interval)
        polls += 1
        if on_poll is not None:
            on_poll(polls)
        try:
            return cairn.call(calls.redeem_device_code(started.device_code, device_name))
        except BadRequest as exc:
            if exc.code == "authorization_pending":
                continue
            if exc.code == "slow_down":
                given = exc.details.get("interval")
                interval = int(given) if isinstance(given, int) else interval + SLOW_DOWN_STEP_S
                continue
            raise DeviceLoginFailed(exc.code, exc.message) from exc


def approve_device(
    cairn: Cairn, user_code: str, authenticator: Authenticator
) -> m.DeviceCodeAccepted:
    """What the console does for the person: approve the code with a passkey assertion
    bound to it."""
    begun = cairn.call(calls.begin_device_approval(user_code))
    credential = authenticator.get(begun.options)
    return cairn.call(
        calls.approve_device_code(begun.user_code, begun.ceremony_id, credential, None)
    )


def deny_device(cairn: Cairn, user_code: str) -> m.DeviceCodeAccepted:
    return cairn.call(calls.deny_device_code(user_code, None))
