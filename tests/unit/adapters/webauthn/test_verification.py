"""Ceremony verification with the software authenticator; ceremonies kept in a dict (no I/O).

The Redis store's own behaviour (TTL, single use, fail closed) is in the integration tests.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from adapters.webauthn import (
    ChallengeMismatch,
    CredentialNotBound,
    CredentialUnknown,
    OriginNotAllowed,
    PasskeyRelyingParty,
    ResponseMalformed,
    RpIdMismatch,
    SignatureInvalid,
    SignCountRegressed,
    UserNotPresent,
    UserNotVerified,
    WrongClientDataType,
)
from commands.ports.passkeys import POSSIBLE_CLONED_AUTHENTICATOR, PasskeyCeremonies, b64url
from tests.support.authenticator import (
    EXAMPLE_ORIGIN,
    EXAMPLE_RP_ID,
    DictChallenges,
    PasskeyBook,
    SoftwareAuthenticator,
    unb64url,
)

pytestmark = pytest.mark.unit

ALICE, BOB = "5d0c8f9e-0000-4000-8000-00000000a11c", "5d0c8f9e-0000-4000-8000-000000000b0b"


@pytest.fixture
def rp() -> PasskeyRelyingParty:
    return PasskeyRelyingParty(EXAMPLE_RP_ID, "Cairn", [EXAMPLE_ORIGIN], DictChallenges())


@pytest.fixture
def book() -> PasskeyBook:
    return PasskeyBook()


def enrol(
    rp: PasskeyRelyingParty, book: PasskeyBook, user_id: str, synced: bool = False
) -> SoftwareAuthenticator:
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN, synced=synced)
    ceremony_id, options = rp.begin_registration(user_id, user_id[-4:], "Someone", [])
    book.add(rp.finish_registration(ceremony_id, device.create(options), book.exists))
    return device


def test_satisfies_the_port(rp: PasskeyRelyingParty) -> None:
    port: PasskeyCeremonies = rp
    assert port is rp


def test_registration_reports_what_the_caller_must_store(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN, synced=True, aaguid=bytes(range(16)))
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", [])
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["rp"] == {"id": EXAMPLE_RP_ID, "name": "Cairn"}
    registered = rp.finish_registration(ceremony_id, device.create(options), book.exists)
    credential = device.credentials[0]
    assert registered.credential_id == credential.credential_id
    assert registered.public_key == credential.cose_public_key()
    assert registered.user_id == ALICE and registered.sign_count == 0
    assert registered.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert (registered.backup_eligible, registered.backed_up) == (True, True)
    assert registered.transports == ("internal", "hybrid")
    assert registered.attestation_format == "none"


@pytest.mark.parametrize(
    ("knobs", "error"),
    [
        ({"user_verified": False}, UserNotVerified),
        ({"user_present": False}, UserNotPresent),
        ({"origin": "https://evil.example"}, OriginNotAllowed),
        ({"rp_id": "evil.example"}, RpIdMismatch),
        ({"challenge": b"another ceremony's challenge"}, ChallengeMismatch),
    ],
)
def test_registration_refusals(
    rp: PasskeyRelyingParty, book: PasskeyBook, knobs: dict[str, Any], error: type[Exception]
) -> None:
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", [])
    with pytest.raises(error):
        rp.finish_registration(
            ceremony_id, SoftwareAuthenticator(EXAMPLE_ORIGIN).create(options, **knobs), book.exists
        )


def with_client_data_type(response: dict[str, Any], kind: str) -> dict[str, Any]:
    client_data = json.loads(unb64url(response["response"]["clientDataJSON"]))
    client_data["type"] = kind
    patched = {**response["response"], "clientDataJSON": b64url(json.dumps(client_data).encode())}
    return {**response, "response": patched}


def test_a_login_response_is_not_a_registration(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", [])
    created = SoftwareAuthenticator(EXAMPLE_ORIGIN).create(options)
    with pytest.raises(WrongClientDataType):
        rp.finish_registration(
            ceremony_id, with_client_data_type(created, "webauthn.get"), book.exists
        )


def test_a_registration_response_is_not_a_login(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    device = enrol(rp, book, ALICE)
    ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
    assertion = with_client_data_type(device.get(options), "webauthn.create")
    with pytest.raises(WrongClientDataType) as caught:
        rp.finish_authentication(ceremony_id, assertion, book.lookup)
    assert caught.value.code == "passkey_wrong_client_data_type"


def test_an_assertion_sent_to_registration_is_malformed(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = enrol(rp, book, ALICE)
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", [])
    assertion = device.get({**options, "rpId": EXAMPLE_RP_ID}, credential=device.credentials[0])
    with pytest.raises(ResponseMalformed):  # it has no attestation object
        rp.finish_registration(ceremony_id, assertion, book.exists)


def test_tampered_signature_is_refused(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    device = enrol(rp, book, ALICE)
    ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
    with pytest.raises(SignatureInvalid) as caught:
        rp.finish_authentication(
            ceremony_id, device.get(options, tamper_signature=True), book.lookup
        )
    assert caught.value.code == "passkey_signature_invalid"


def test_a_forged_low_counter_is_not_flagged_as_a_clone(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = enrol(rp, book, ALICE)
    for _ in range(3):
        ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
        book.record_use(rp.finish_authentication(ceremony_id, device.get(options), book.lookup))
    ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
    forged = device.get(options, sign_count=1, tamper_signature=True)
    with pytest.raises(SignatureInvalid):  # not SignCountRegressed: only signed counters count
        rp.finish_authentication(ceremony_id, forged, book.lookup)


def test_counter_regression_is_flagged_with_what_to_record(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = enrol(rp, book, ALICE)
    ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
    book.record_use(
        rp.finish_authentication(ceremony_id, device.get(options, sign_count=7), book.lookup)
    )
    ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
    with pytest.raises(SignCountRegressed) as caught:
        rp.finish_authentication(ceremony_id, device.get(options, sign_count=7), book.lookup)
    assert caught.value.details == {"flag": POSSIBLE_CLONED_AUTHENTICATOR}
    suspicion = caught.value.suspicion
    assert (suspicion.user_id, suspicion.stored_sign_count, suspicion.presented_sign_count) == (
        ALICE,
        7,
        7,
    )
    assert suspicion.credential_id == device.credentials[0].credential_id


def test_synced_passkey_with_counter_zero_signs_in_again_and_again(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = enrol(rp, book, ALICE, synced=True)
    for _ in range(3):
        ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
        verified = rp.finish_authentication(ceremony_id, device.get(options), book.lookup)
        assert verified.new_sign_count == 0 and verified.backed_up
        book.record_use(verified)


def test_discoverable_login_names_the_user_by_handle(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    device = enrol(rp, book, ALICE)
    ceremony_id, options = rp.begin_authentication(None, [])
    assert options["allowCredentials"] == []
    verified = rp.finish_authentication(ceremony_id, device.get(options), book.lookup)
    assert verified.user_id == ALICE and verified.evidence.user_handle == ALICE.encode()


@pytest.mark.parametrize("user_handle", [None, BOB.encode()])
def test_discoverable_login_needs_the_right_user_handle(
    rp: PasskeyRelyingParty, book: PasskeyBook, user_handle: bytes | None
) -> None:
    device = enrol(rp, book, ALICE)
    enrol(rp, book, BOB)
    ceremony_id, options = rp.begin_authentication(None, [])
    with pytest.raises(CredentialNotBound):
        rp.finish_authentication(
            ceremony_id, device.get(options, user_handle=user_handle), book.lookup
        )


def test_a_credential_not_on_the_allow_list_is_refused(
    rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    first = enrol(rp, book, ALICE)
    second = enrol(rp, book, ALICE)
    ceremony_id, options = rp.begin_authentication(ALICE, [first.credentials[0].credential_id])
    with pytest.raises(CredentialNotBound):
        rp.finish_authentication(
            ceremony_id, second.get(options, credential=second.credentials[0]), book.lookup
        )


def test_an_unknown_credential_is_refused(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    device = enrol(rp, book, ALICE)
    ceremony_id, options = rp.begin_authentication(None, [])
    with pytest.raises(CredentialUnknown):
        rp.finish_authentication(ceremony_id, device.get(options), PasskeyBook().lookup)


def test_approval_evidence_verifies_offline(rp: PasskeyRelyingParty, book: PasskeyBook) -> None:
    """What the approval event records is enough to check the signature without Cairn."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    device = enrol(rp, book, ALICE)
    plan_hash = hashlib.sha256(b'{"steps":[]}').digest()
    ceremony_id, options = rp.begin_plan_approval(ALICE, plan_hash, book.ids_of(ALICE))
    approval = rp.finish_plan_approval(ceremony_id, device.get(options), plan_hash, book.lookup)
    evidence = approval.assertion.evidence
    assert approval.challenge.startswith(plan_hash) and approval.credential_id == (
        device.credentials[0].credential_id
    )
    public_key = device.credentials[0].private_key.public_key()
    signed = evidence.authenticator_data + hashlib.sha256(evidence.client_data_json).digest()
    public_key.verify(evidence.signature, signed, ec.ECDSA(hashes.SHA256()))
    assert approval.as_event_data()["evidence"]["signature"]
