"""Successful ceremonies end to end: software authenticator, relying party, real Redis."""

from __future__ import annotations

import hashlib

import pytest

from adapters.webauthn import (
    CeremonyUnknown,
    ChallengeMismatch,
    PasskeyRelyingParty,
    challenge_binds_plan,
)
from commands.ports.passkeys import b64url
from tests.support.authenticator import EXAMPLE_ORIGIN, PasskeyBook, SoftwareAuthenticator

pytestmark = pytest.mark.integration

ALICE = "5d0c8f9e-0000-4000-8000-00000000a11c"
PLAN = hashlib.sha256(b'{"steps":[{"action":"payments.send","amount":40}]}').digest()


def register(rp: PasskeyRelyingParty, book: PasskeyBook, device: SoftwareAuthenticator) -> None:
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", book.ids_of(ALICE))
    book.add(rp.finish_registration(ceremony_id, device.create(options), book.exists))


def test_full_registration_then_login(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", [])
    assert options["user"] == {
        "id": b64url(ALICE.encode()),
        "name": "alice",
        "displayName": "Alice",
    }
    assert options["timeout"] == 120_000 and options["attestation"] == "none"
    registered = rp.finish_registration(ceremony_id, device.create(options), book.exists)
    book.add(registered)

    for expected_count in (1, 2):
        ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
        assert options["userVerification"] == "required"
        assert options["allowCredentials"] == [
            {"id": registered.credential_id_b64, "type": "public-key"}
        ]
        verified = rp.finish_authentication(ceremony_id, device.get(options), book.lookup)
        assert (verified.user_id, verified.credential_id) == (ALICE, registered.credential_id)
        assert verified.new_sign_count == expected_count and verified.user_verified
        assert verified.origin == EXAMPLE_ORIGIN
        book.record_use(verified)


def test_multiple_passkeys_per_user(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    phone, laptop = (
        SoftwareAuthenticator(EXAMPLE_ORIGIN, synced=True),
        SoftwareAuthenticator(EXAMPLE_ORIGIN),
    )
    register(rp, book, phone)
    register(rp, book, laptop)
    assert len(book.ids_of(ALICE)) == 2

    # The second registration listed the first passkey: an authenticator holding it refuses.
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", book.ids_of(ALICE))
    assert len(options["excludeCredentials"]) == 2
    with pytest.raises(ValueError, match="InvalidStateError"):
        phone.create(options)

    for device in (phone, laptop, phone):
        ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
        verified = rp.finish_authentication(ceremony_id, device.get(options), book.lookup)
        assert verified.credential_id == device.credentials[0].credential_id
        book.record_use(verified)

    # Username-less: each passkey names Alice by its user handle.
    for device in (phone, laptop):
        ceremony_id, options = rp.begin_authentication(None, [])
        assert rp.finish_authentication(ceremony_id, device.get(options), book.lookup).user_id == (
            ALICE
        )


def test_plan_bound_approval_is_recorded_with_its_evidence(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    register(rp, book, device)
    ceremony_id, options = rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))
    assert options["timeout"] == 300_000
    approval = rp.finish_plan_approval(ceremony_id, device.get(options), PLAN, book.lookup)
    assert approval.plan_hash == PLAN and challenge_binds_plan(approval.challenge, PLAN)
    assert approval.assertion.user_id == ALICE
    event = approval.as_event_data()
    assert event["plan_hash"] == b64url(PLAN)
    assert event["credential_id"] == b64url(device.credentials[0].credential_id)
    assert set(event["evidence"]) == {
        "client_data_json",
        "authenticator_data",
        "signature",
        "user_handle",
    }


def test_an_approval_is_usable_once(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    register(rp, book, device)
    ceremony_id, options = rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))
    assertion = device.get(options)
    rp.finish_plan_approval(ceremony_id, assertion, PLAN, book.lookup)
    with pytest.raises(CeremonyUnknown):
        rp.finish_plan_approval(ceremony_id, assertion, PLAN, book.lookup)


def test_an_approval_cannot_be_replayed_on_an_identical_plan_later(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    """A synced passkey signs counter 0 every time: only the nonce tells two approvals apart."""
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN, synced=True)
    register(rp, book, device)
    first_id, first_options = rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))
    captured = device.get(first_options)
    rp.finish_plan_approval(first_id, captured, PLAN, book.lookup)

    later_id, later_options = rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))
    assert later_options["challenge"] != first_options["challenge"]
    with pytest.raises(ChallengeMismatch):
        rp.finish_plan_approval(later_id, captured, PLAN, book.lookup)


def test_a_finish_of_the_wrong_kind_does_not_spend_the_ceremony(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    register(rp, book, device)
    ceremony_id, options = rp.begin_plan_approval(ALICE, PLAN, book.ids_of(ALICE))
    assertion = device.get(options)
    # A login must not be completed with an approval's ceremony (or the other way round)...
    with pytest.raises(CeremonyUnknown):
        rp.finish_authentication(ceremony_id, assertion, book.lookup)
    # ...and trying does not spend the approval.
    approval = rp.finish_plan_approval(ceremony_id, assertion, PLAN, book.lookup)
    assert approval.plan_hash == PLAN
