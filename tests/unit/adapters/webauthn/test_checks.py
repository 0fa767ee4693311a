from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webauthn.helpers.structs import (
    AuthenticatorData,
    AuthenticatorDataFlags,
    ClientDataType,
    CollectedClientData,
)

from adapters.webauthn import (
    CeremonyKind,
    ChallengeMismatch,
    OriginNotAllowed,
    PendingCeremony,
    ResponseMalformed,
    RpIdMismatch,
    UserNotPresent,
    UserNotVerified,
    WrongClientDataType,
    approval_challenge,
    challenge_binds_plan,
    user_handle_of,
)
from adapters.webauthn.checks import (
    check_authenticator_data,
    check_client_data,
    normalised_origins,
    rp_id_hash,
    sign_count_acceptable,
)
from domain.errors import NotAuthenticated

pytestmark = pytest.mark.unit

ORIGINS = frozenset({"https://app.cairn.example"})
CHALLENGE = b"c" * 32


def client_data(**changes: object) -> CollectedClientData:
    values: dict[str, object] = {
        "type": ClientDataType.WEBAUTHN_GET,
        "challenge": CHALLENGE,
        "origin": "https://app.cairn.example",
    }
    values.update(changes)
    return CollectedClientData(**values)  # type: ignore[arg-type]


def auth_data(rp_id: str = "cairn.example", **flags: bool) -> AuthenticatorData:
    honest = {"up": True, "uv": True, "be": False, "bs": False, "at": False, "ed": False}
    honest.update(flags)
    return AuthenticatorData(
        rp_id_hash=rp_id_hash(rp_id), flags=AuthenticatorDataFlags(**honest), sign_count=1
    )


def test_an_honest_client_data_passes() -> None:
    check_client_data(
        client_data(),
        expected_type=ClientDataType.WEBAUTHN_GET,
        expected_challenge=CHALLENGE,
        allowed_origins=ORIGINS,
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"type": ClientDataType.WEBAUTHN_CREATE}, WrongClientDataType),
        ({"challenge": b"d" * 32}, ChallengeMismatch),
        ({"origin": "https://evil.example"}, OriginNotAllowed),
        ({"origin": "https://app.cairn.example.evil.example"}, OriginNotAllowed),
        ({"origin": "https://app.cairn.example:8443"}, OriginNotAllowed),
        ({"origin": "http://app.cairn.example"}, OriginNotAllowed),
        ({"origin": "https://APP.cairn.example"}, OriginNotAllowed),
        ({"origin": "https://app.cairn.example/"}, OriginNotAllowed),
        ({"cross_origin": True}, OriginNotAllowed),
    ],
)
def test_client_data_refusals(changes: dict[str, object], error: type[NotAuthenticated]) -> None:
    with pytest.raises(error) as caught:
        check_client_data(
            client_data(**changes),
            expected_type=ClientDataType.WEBAUTHN_GET,
            expected_challenge=CHALLENGE,
            allowed_origins=ORIGINS,
        )
    assert isinstance(caught.value, NotAuthenticated)
    assert caught.value.code.startswith("passkey_")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (auth_data(rp_id="evil.example"), RpIdMismatch),
        (auth_data(rp_id="app.cairn.example"), RpIdMismatch),
        (auth_data(up=False), UserNotPresent),
        (auth_data(uv=False), UserNotVerified),
        (auth_data(bs=True), ResponseMalformed),
    ],
)
def test_authenticator_data_refusals(
    data: AuthenticatorData, error: type[NotAuthenticated]
) -> None:
    with pytest.raises(error):
        check_authenticator_data(
            data, expected_rp_id_hash=hashlib.sha256(b"cairn.example").digest()
        )


def test_honest_authenticator_data_passes() -> None:
    check_authenticator_data(
        auth_data(be=True, bs=True), expected_rp_id_hash=rp_id_hash("cairn.example")
    )


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_sign_count_must_grow_unless_both_are_zero(stored: int, presented: int) -> None:
    expected = presented > stored or stored == presented == 0
    assert sign_count_acceptable(stored, presented) is expected


def test_synced_passkeys_report_zero_forever() -> None:
    assert sign_count_acceptable(0, 0)
    assert sign_count_acceptable(0, 1)
    assert not sign_count_acceptable(5, 5)
    assert not sign_count_acceptable(5, 0)  # a counter that fell back to zero is suspicious


@given(st.binary(min_size=16, max_size=64), st.binary(min_size=16, max_size=16))
def test_approval_challenge_binds_its_plan_only(plan_hash: bytes, nonce: bytes) -> None:
    challenge = approval_challenge(plan_hash, nonce)
    assert challenge_binds_plan(challenge, plan_hash)
    other = bytes([plan_hash[0] ^ 1]) + plan_hash[1:]
    assert not challenge_binds_plan(challenge, other)
    assert not challenge_binds_plan(plan_hash, plan_hash)  # no nonce: not an approval challenge


@pytest.mark.parametrize(("plan_hash", "nonce"), [(b"x" * 15, b"n" * 16), (b"x" * 32, b"n" * 8)])
def test_approval_challenge_rejects_bad_sizes(plan_hash: bytes, nonce: bytes) -> None:
    with pytest.raises(ValueError):
        approval_challenge(plan_hash, nonce)


def test_user_handle_is_the_user_id_and_bounded() -> None:
    assert user_handle_of("0b3c6a4e-7f1d-4c1e-9a59-0f4f3c8b2e11") == (
        b"0b3c6a4e-7f1d-4c1e-9a59-0f4f3c8b2e11"
    )
    for bad in ("", "x" * 65):
        with pytest.raises(ValueError):
            user_handle_of(bad)


def test_origin_allow_list_accepts_serialised_origins_within_the_rp() -> None:
    origins = ["https://app.cairn.example", "https://cairn.example", "https://x.cairn.example:8443"]
    assert normalised_origins(origins, "cairn.example") == frozenset(origins)
    assert normalised_origins(["http://localhost:5173"], "localhost")


@pytest.mark.parametrize(
    ("origin", "rp_id"),
    [
        ("https://app.cairn.example/", "cairn.example"),  # trailing slash: never matches
        ("https://App.cairn.example", "cairn.example"),
        ("https://app.cairn.example:443", "cairn.example"),  # browsers drop the default port
        ("http://app.cairn.example", "cairn.example"),  # plain http off loopback
        ("https://evil.example", "cairn.example"),  # outside the rp id
        ("https://notcairn.example", "cairn.example"),
        ("https://*.cairn.example", "cairn.example"),
        ("https://app.cairn.example", "https://cairn.example"),  # rp id is a host, not a URL
    ],
)
def test_origin_allow_list_rejects_what_could_never_match_or_is_unsafe(
    origin: str, rp_id: str
) -> None:
    with pytest.raises(ValueError):
        normalised_origins([origin], rp_id)


def test_empty_allow_list_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        normalised_origins([], "cairn.example")


@given(
    st.sampled_from(list(CeremonyKind)),
    st.binary(min_size=1, max_size=80),
    st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    st.lists(st.binary(min_size=1, max_size=64), max_size=4),
    st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
)
def test_pending_ceremony_round_trips_through_json(
    kind: CeremonyKind,
    challenge: bytes,
    user_id: str | None,
    credential_ids: list[bytes],
    plan_hash: bytes | None,
) -> None:
    ceremony = PendingCeremony(
        kind=kind,
        challenge=challenge,
        user_id=user_id,
        allowed_credential_ids=tuple(credential_ids),
        excluded_credential_ids=tuple(reversed(credential_ids)),
        plan_hash=plan_hash,
    )
    assert PendingCeremony.from_json(ceremony.to_json()) == ceremony
