from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.vault import aead
from adapters.vault.errors import VaultInvalidInput
from adapters.vault.personal_token import format_token, parse_token

pytestmark = pytest.mark.unit

KEY_ID = "0123456789abcdef"


def test_round_trip_with_colons_in_the_subject() -> None:
    token = format_token("urn:user:42", KEY_ID, b"\x00\xffblob")
    assert token.startswith("pii:v1:urn:user:42:0123456789abcdef:")
    assert parse_token(token) == ("urn:user:42", KEY_ID, b"\x00\xffblob")


@pytest.mark.parametrize(
    "token",
    [
        "alice@example.com",
        "pii:v1:",
        "pii:v1:user:AAAA",
        "pii:v1::0123456789abcdef:AAAA",
        "pii:v1:user:0123456789ABCDEF:AAAA",
        "pii:v1:user:0123456789abcdef:AA+A",
        "pii:v1:user:0123456789abcdef:",
        "pii:v2:user:0123456789abcdef:AAAA",
    ],
)
def test_malformed_tokens_are_refused_without_echoing_them(token: str) -> None:
    with pytest.raises(VaultInvalidInput) as caught:
        parse_token(token)
    assert caught.value.code == "vault_invalid_input"
    assert token not in caught.value.message


@given(subject=st.text(min_size=1), value=st.text())
def test_sealed_unicode_round_trips_through_the_token(subject: str, value: str) -> None:
    # The pure half of seal/open: encryption bound to the context, then the text form.
    key = aead.new_key()
    ad = aead.personal_ad("tenant", subject, KEY_ID, "name")
    token = format_token(subject, KEY_ID, aead.encrypt(key, value.encode(), ad))
    parsed = parse_token(token)
    assert parsed.subject_id == subject
    assert aead.decrypt(key, parsed.blob, ad).decode() == value
