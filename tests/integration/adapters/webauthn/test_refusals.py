"""Each bad response is refused with its own code, and nothing is spent or changed wrongly.

After every refusal: the caller's records are unchanged, the refused ceremony is spent (even an
honest response cannot use it afterwards), and a ceremony started before it still succeeds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from adapters.webauthn import (
    CeremonyUnknown,
    PasskeyAlreadyRegistered,
    PasskeyRefused,
    PasskeyRelyingParty,
    RedisChallengeStore,
)
from commands.ports.passkeys import POSSIBLE_CLONED_AUTHENTICATOR
from domain.errors import Conflict, NotAuthenticated
from tests.support.authenticator import (
    EXAMPLE_ORIGIN,
    EXAMPLE_RP_ID,
    PasskeyBook,
    SoftwareAuthenticator,
)

pytestmark = pytest.mark.integration

ALICE, BOB = "5d0c8f9e-0000-4000-8000-00000000a11c", "5d0c8f9e-0000-4000-8000-000000000b0b"
PLAN = hashlib.sha256(b"plan A").digest()
OTHER_PLAN = hashlib.sha256(b"plan B").digest()

# How a bad response is made from honest options: (alice's device, bob's device, options).
Forge = Callable[[SoftwareAuthenticator, SoftwareAuthenticator, dict[str, Any]], dict[str, Any]]


def enrol(rp: PasskeyRelyingParty, book: PasskeyBook, user_id: str) -> SoftwareAuthenticator:
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    ceremony_id, options = rp.begin_registration(user_id, user_id[-4:], "Someone", [])
    book.add(rp.finish_registration(ceremony_id, device.create(options), book.exists))
    ceremony_id, options = rp.begin_authentication(user_id, book.ids_of(user_id))
    book.record_use(rp.finish_authentication(ceremony_id, device.get(options), book.lookup))
    return device  # its counter now stands at 1, and so does the record


BAD_ASSERTIONS: dict[str, tuple[Forge, str]] = {
    "foreign origin": (
        lambda alice, bob, options: alice.get(options, origin="https://evil.example"),
        "passkey_origin_not_allowed",
    ),
    "look-alike origin": (
        lambda alice, bob, options: alice.get(options, origin="https://app.cairn.example.evil.io"),
        "passkey_origin_not_allowed",
    ),
    "wrong rp id": (
        lambda alice, bob, options: alice.get(options, rp_id="evil.example"),
        "passkey_rp_id_mismatch",
    ),
    "user verification flag clear": (
        lambda alice, bob, options: alice.get(options, user_verified=False),
        "passkey_user_not_verified",
    ),
    "user presence flag clear": (
        lambda alice, bob, options: alice.get(options, user_present=False),
        "passkey_user_not_present",
    ),
    "another user's credential": (
        lambda alice, bob, options: bob.get(options, credential=bob.credentials[0]),
        "passkey_credential_not_bound",
    ),
    "another user's credential claiming alice's handle": (
        lambda alice, bob, options: bob.get(
            options, credential=bob.credentials[0], user_handle=ALICE.encode()
        ),
        "passkey_credential_not_bound",
    ),
    "counter gone backwards": (
        lambda alice, bob, options: alice.get(options, sign_count=0),
        "passkey_sign_count_regressed",
    ),
    "counter not increased": (
        lambda alice, bob, options: alice.get(options, sign_count=1),
        "passkey_sign_count_regressed",
    ),
    "tampered signature": (
        lambda alice, bob, options: alice.get(options, tamper_signature=True),
        "passkey_signature_invalid",
    ),
    "a different challenge": (
        lambda alice, bob, options: alice.get(options, challenge=b"captured elsewhere" * 2),
        "passkey_challenge_mismatch",
    ),
}


@pytest.fixture
def alice(rp: PasskeyRelyingParty, book: PasskeyBook) -> SoftwareAuthenticator:
    return enrol(rp, book, ALICE)


@pytest.fixture
def bob(rp: PasskeyRelyingParty, book: PasskeyBook) -> SoftwareAuthenticator:
    return enrol(rp, book, BOB)


@pytest.mark.parametrize("flow", ["login", "approval"])
@pytest.mark.parametrize("case", list(BAD_ASSERTIONS))
def test_bad_assertion_is_refused_and_nothing_changes(
    rp: PasskeyRelyingParty,
    book: PasskeyBook,
    alice: SoftwareAuthenticator,
    bob: SoftwareAuthenticator,
    case: str,
    flow: str,
) -> None:
    forge, code = BAD_ASSERTIONS[case]

    def begin() -> tuple[str, dict[str, Any]]:
        if flow == "login":
            return rp.begin_authentication(ALICE, book.ids_of(ALICE))
        return rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))

    def finish(ceremony_id: str, response: dict[str, Any]) -> Any:
        if flow == "login":
            return rp.finish_authentication(ceremony_id, response, book.lookup)
        return rp.finish_plan_approval(ceremony_id, response, PLAN, book.lookup)

    started_before_id, started_before_options = begin()
    records_before = dict(book.passkeys)
    ceremony_id, options = begin()
    with pytest.raises(PasskeyRefused) as caught:
        finish(ceremony_id, forge(alice, bob, options))
    assert isinstance(caught.value, NotAuthenticated)
    assert caught.value.code == code
    if code == "passkey_sign_count_regressed":
        assert caught.value.details == {"flag": POSSIBLE_CLONED_AUTHENTICATOR}
    else:
        assert "flag" not in caught.value.details
    assert book.passkeys == records_before

    with pytest.raises(CeremonyUnknown):  # spent: not even an honest response may use it now
        finish(ceremony_id, alice.get(options))
    # Another ceremony of the same person is untouched by the refusal.
    finish(started_before_id, alice.get(started_before_options))


@pytest.mark.parametrize("flow", ["login", "approval"])
def test_replayed_assertion_is_refused(
    rp: PasskeyRelyingParty, book: PasskeyBook, alice: SoftwareAuthenticator, flow: str
) -> None:
    if flow == "login":
        ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
        assertion = alice.get(options)
        book.record_use(rp.finish_authentication(ceremony_id, assertion, book.lookup))
        records_after_first_use = dict(book.passkeys)
        with pytest.raises(CeremonyUnknown) as caught:
            rp.finish_authentication(ceremony_id, assertion, book.lookup)
    else:
        ceremony_id, options = rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))
        assertion = alice.get(options)
        book.record_use(
            rp.finish_plan_approval(ceremony_id, assertion, PLAN, book.lookup).assertion
        )
        records_after_first_use = dict(book.passkeys)
        with pytest.raises(CeremonyUnknown) as caught:
            rp.finish_plan_approval(ceremony_id, assertion, PLAN, book.lookup)
    assert caught.value.code == "passkey_ceremony_unknown"
    assert book.passkeys == records_after_first_use


def test_expired_challenge_is_refused(
    challenges: RedisChallengeStore, book: PasskeyBook, alice: SoftwareAuthenticator
) -> None:
    brief = PasskeyRelyingParty(
        EXAMPLE_RP_ID, "Cairn", [EXAMPLE_ORIGIN], challenges, authentication_ttl_s=1
    )
    ceremony_id, options = brief.begin_authentication(ALICE, book.ids_of(ALICE))
    assert options["timeout"] == 1000
    assertion = alice.get(options)
    records_before = dict(book.passkeys)
    time.sleep(1.1)
    with pytest.raises(CeremonyUnknown) as caught:
        brief.finish_authentication(ceremony_id, assertion, book.lookup)
    assert caught.value.code == "passkey_ceremony_unknown"
    assert book.passkeys == records_before


def test_approval_for_another_plan_is_refused(
    rp: PasskeyRelyingParty, book: PasskeyBook, alice: SoftwareAuthenticator
) -> None:
    other_id, other_options = rp.begin_plan_approval(ALICE, OTHER_PLAN, book.ids_of(ALICE))
    ceremony_id, options = rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))
    assertion = alice.get(options)
    with pytest.raises(PasskeyRefused) as caught:
        rp.finish_plan_approval(ceremony_id, assertion, OTHER_PLAN, book.lookup)
    assert caught.value.code == "passkey_plan_mismatch"
    with pytest.raises(CeremonyUnknown):  # spent: it cannot then be moved back to plan A either
        rp.finish_plan_approval(ceremony_id, assertion, PLAN, book.lookup)
    # An assertion over plan A's challenge never approves plan B's own ceremony.
    with pytest.raises(PasskeyRefused) as moved:
        rp.finish_plan_approval(other_id, assertion, OTHER_PLAN, book.lookup)
    assert moved.value.code == "passkey_challenge_mismatch"
    untouched_id, untouched = rp.begin_plan_approval(ALICE, OTHER_PLAN, book.ids_of(ALICE))
    approval = rp.finish_plan_approval(untouched_id, alice.get(untouched), OTHER_PLAN, book.lookup)
    assert approval.plan_hash == OTHER_PLAN
    assert other_options["challenge"] != untouched["challenge"]


@pytest.mark.parametrize("owner", [ALICE, BOB])
def test_duplicate_credential_at_registration_is_refused(
    rp: PasskeyRelyingParty,
    book: PasskeyBook,
    alice: SoftwareAuthenticator,
    bob: SoftwareAuthenticator,
    owner: str,
) -> None:
    """Re-attesting an existing credential: Alice's own, or Bob's (a takeover attempt)."""
    device = alice if owner == ALICE else bob
    records_before = dict(book.passkeys)
    # Alice's own ids are excluded by the ceremony; Bob's are only known to the caller's check.
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", book.ids_of(ALICE))
    response = device.create(options, reuse=device.credentials[0])
    with pytest.raises(PasskeyAlreadyRegistered) as caught:
        rp.finish_registration(ceremony_id, response, book.exists)
    assert isinstance(caught.value, Conflict)
    assert caught.value.code == "passkey_already_registered"
    assert book.passkeys == records_before
    with pytest.raises(CeremonyUnknown):
        rp.finish_registration(ceremony_id, response, lambda _: False)
