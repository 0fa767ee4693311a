from __future__ import annotations

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.totp.totp import matching_step

pytestmark = pytest.mark.unit

SECRET = pyotp.random_base32(32)
NOW = 1_800_000_015.0  # 15 s into a step


@pytest.fixture
def totp() -> pyotp.TOTP:
    return pyotp.TOTP(SECRET)


def test_current_and_neighbouring_steps_match(totp: pyotp.TOTP) -> None:
    current = totp.timecode(NOW)
    for offset in (-1, 0, 1):
        code = totp.at(NOW + offset * 30)
        assert matching_step(totp, code, NOW, valid_window=1) == current + offset


def test_codes_outside_the_window_do_not_match(totp: pyotp.TOTP) -> None:
    for offset in (-2, 2):
        code = totp.at(NOW + offset * 30)
        if code not in {totp.at(NOW + o * 30) for o in (-1, 0, 1)}:  # 1 in 10^5 collision
            assert matching_step(totp, code, NOW, valid_window=1) is None


def test_spaces_are_ignored(totp: pyotp.TOTP) -> None:
    code = totp.at(NOW)
    assert matching_step(totp, f"{code[:3]} {code[3:]}", NOW, 1) == totp.timecode(NOW)


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 34 5"])
def test_malformed_codes_do_not_match(totp: pyotp.TOTP, bad: str) -> None:
    assert matching_step(totp, bad, NOW, 1) is None


@given(st.text(max_size=8))
def test_never_raises_on_any_input(code: str) -> None:
    totp = pyotp.TOTP(SECRET)
    step = matching_step(totp, code, NOW, 1)
    assert step is None or abs(step - totp.timecode(NOW)) <= 1
