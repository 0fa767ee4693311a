"""The device authorization grant's state machine (RFC 8628): what each poll is answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.identity.device_grant import (
    USER_CODE_ALPHABET,
    AccessDenied,
    AuthorizationPending,
    DeviceCodeDecided,
    DeviceGrant,
    ExpiredToken,
    InvalidUserCode,
    SlowDown,
    approval_binding,
    new_user_code,
    normalize_user_code,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_user_codes_are_two_groups_of_four_consonants_and_read_back_leniently() -> None:
    codes = {new_user_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert code[4] == "-" and len(code) == 9
        assert set(code.replace("-", "")) <= set(USER_CODE_ALPHABET)
        assert normalize_user_code(code.lower().replace("-", " ")) == code
    for bad in ("BCDF-GHJ", "ABCD-EFGH", "BCDF-GHJK-L", ""):
        with pytest.raises(InvalidUserCode):
            normalize_user_code(bad)


def test_the_approval_binding_is_per_code() -> None:
    assert approval_binding("BCDF-GHJK") == approval_binding("BCDF-GHJK")
    assert approval_binding("BCDF-GHJK") != approval_binding("BCDF-GHJL")
    assert len(approval_binding("BCDF-GHJK")) == 32


def test_polls_are_pending_until_approved_then_exchanged() -> None:
    grant = DeviceGrant.request("cairn CLI", T0)
    grant, answer = grant.poll(at(5))
    assert isinstance(answer, AuthorizationPending)
    grant = grant.approve("tenant", "user", "cred", at(7))
    grant, answer = grant.poll(at(10))
    assert answer is None
    assert (grant.tenant_id, grant.user_id, grant.credential_id) == ("tenant", "user", "cred")


def test_polling_too_fast_slows_the_device_down_by_five_seconds_each_time() -> None:
    grant = DeviceGrant.request("cairn CLI", T0)
    grant, _ = grant.poll(at(5))
    grant, answer = grant.poll(at(6))
    assert isinstance(answer, SlowDown) and answer.details == {"interval": 10}
    grant, answer = grant.poll(at(12))  # 6 s after the last poll: under the new 10 s
    assert isinstance(answer, SlowDown) and grant.interval_s == 15
    grant, answer = grant.poll(at(27))
    assert isinstance(answer, AuthorizationPending)


def test_a_denied_or_expired_code_is_answered_so_and_cannot_be_decided_again() -> None:
    grant = DeviceGrant.request("cairn CLI", T0)
    denied = grant.deny("tenant", "user", at(3))
    assert isinstance(denied.poll(at(5))[1], AccessDenied)
    with pytest.raises(DeviceCodeDecided):
        denied.approve("tenant", "user", "cred", at(6))
    late = grant.expires_at + timedelta(seconds=1)
    assert isinstance(grant.poll(late)[1], ExpiredToken)
    with pytest.raises(DeviceCodeDecided):
        grant.approve("tenant", "user", "cred", late)
