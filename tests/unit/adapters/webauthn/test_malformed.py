"""Whatever a client sends, the answer is a refusal with a code, never a crash (500)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.webauthn import PasskeyRefused, PasskeyRelyingParty, ResponseMalformed
from commands.ports.passkeys import b64url
from tests.support.authenticator import (
    EXAMPLE_ORIGIN,
    EXAMPLE_RP_ID,
    DictChallenges,
    PasskeyBook,
    SoftwareAuthenticator,
    unb64url,
)

pytestmark = pytest.mark.unit

ALICE = "5d0c8f9e-0000-4000-8000-00000000a11c"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def enrolled() -> tuple[PasskeyRelyingParty, PasskeyBook, SoftwareAuthenticator]:
    rp = PasskeyRelyingParty(EXAMPLE_RP_ID, "Cairn", [EXAMPLE_ORIGIN], DictChallenges())
    book, device = PasskeyBook(), SoftwareAuthenticator(EXAMPLE_ORIGIN)
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", [])
    book.add(rp.finish_registration(ceremony_id, device.create(options), book.exists))
    return rp, book, device


def with_response_field(response: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    return {**response, "response": {**response["response"], name: value}}


GARBAGE: list[Any] = [
    "not json",
    "[]",
    {},
    {"id": "AA", "rawId": "AA", "type": "public-key", "response": {}},
    {"id": "AA", "rawId": "AA", "type": "password", "response": {}},
    {
        "id": "AA",
        "rawId": "AQ",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
    },
    {
        "id": "AA",
        "rawId": "AA",
        "type": "public-key",
        "response": {"clientDataJSON": "!!", "authenticatorData": "AA", "signature": "AA"},
    },
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_is_malformed(garbage: Any) -> None:
    rp, book, _ = enrolled()
    ceremony_id, _ = rp.begin_authentication(None, [])
    with pytest.raises(ResponseMalformed) as caught:
        rp.finish_authentication(ceremony_id, garbage, book.lookup)
    assert caught.value.code == "passkey_response_malformed"
    ceremony_id, _ = rp.begin_registration(ALICE, "alice", "Alice", [])
    with pytest.raises(ResponseMalformed):
        rp.finish_registration(ceremony_id, garbage, book.exists)


@FUZZ
@given(st.sampled_from(["type", "challenge", "origin", "crossOrigin", "tokenBinding"]), JSON_VALUES)
def test_any_client_data_field_value_is_refused_or_accepted_never_crashes(
    field: str, value: Any
) -> None:
    rp, book, device = enrolled()
    ceremony_id, options = rp.begin_authentication(ALICE, book.ids_of(ALICE))
    honest = device.get(options)
    client_data = json.loads(unb64url(honest["response"]["clientDataJSON"]))
    client_data[field] = value
    patched = with_response_field(
        honest, "clientDataJSON", b64url(json.dumps(client_data).encode())
    )
    with contextlib.suppress(PasskeyRefused):  # some values (crossOrigin: false) are fine
        rp.finish_authentication(ceremony_id, patched, book.lookup)


@FUZZ
@given(
    st.sampled_from(["authenticatorData", "signature", "userHandle"]),
    st.binary(max_size=80),
)
def test_any_assertion_bytes_are_refused_never_crash(field: str, value: bytes) -> None:
    rp, book, device = enrolled()
    ceremony_id, options = rp.begin_authentication(None, [])
    patched = with_response_field(device.get(options), field, b64url(value))
    with pytest.raises(PasskeyRefused):
        rp.finish_authentication(ceremony_id, patched, book.lookup)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=120),
        st.dictionaries(
            st.sampled_from(["fmt", "attStmt", "authData"]),
            st.one_of(
                st.binary(max_size=60),
                st.text(max_size=8),
                st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
            ),
        ).map(cbor2.dumps),
    )
)
def test_any_attestation_object_is_refused_never_crashes(attestation: bytes) -> None:
    rp, book, _ = enrolled()
    ceremony_id, options = rp.begin_registration(ALICE, "alice", "Alice", book.ids_of(ALICE))
    response = SoftwareAuthenticator(EXAMPLE_ORIGIN).create(options)
    patched = with_response_field(response, "attestationObject", b64url(attestation))
    with pytest.raises(PasskeyRefused):
        rp.finish_registration(ceremony_id, patched, book.exists)
