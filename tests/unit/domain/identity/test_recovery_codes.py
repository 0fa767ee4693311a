"""Recovery codes in the domain: their shape, and a code of the current set used once."""

from __future__ import annotations

import uuid

import pytest

from domain.identity.recovery import (
    ALPHABET,
    CODE_LENGTH,
    RecoveryCodeReplaced,
    RecoveryCodeUsed,
    lookup_of,
    new_code,
    normalized,
    shown,
)
from domain.identity.user import User

pytestmark = pytest.mark.unit


def test_codes_read_leniently_and_show_in_groups() -> None:
    code = new_code()
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    typed = shown(code).lower().replace("-", " ")
    assert normalized(typed) == code
    assert shown(code).count("-") == 3
    for bad in ("", "ABC", code[:-1] + "1", code + "A"):
        assert normalized(bad) is None
    # The lookup depends on the first characters only, and says nothing of the rest.
    assert lookup_of(code) == lookup_of(code[:8] + "A" * 12)


def user() -> User:
    return User(uuid.uuid4(), uuid.uuid4(), "sealed-name", "sealed-email", [])


def test_a_code_of_the_current_set_works_once() -> None:
    ada = user()
    assert ada.recovery_codes is None
    with pytest.raises(RecoveryCodeReplaced):
        ada.use_recovery_code("g1", 0)
    ada.replace_recovery_codes("g1", 10)
    ada.use_recovery_code("g1", 3)
    assert ada.recovery_codes == {"generation": "g1", "count": 10, "used": [3]}
    with pytest.raises(RecoveryCodeUsed):
        ada.use_recovery_code("g1", 3)
    ada.replace_recovery_codes("g2", 10)
    with pytest.raises(RecoveryCodeReplaced):
        ada.use_recovery_code("g1", 4)
    ada.use_recovery_code("g2", 3)  # a new set starts unused
    events = [type(e).__name__ for e in ada.collect_events()]
    assert events.count("RecoveryCodeUsed") == 2
