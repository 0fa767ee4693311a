from __future__ import annotations

import pytest

from adapters.vault import aead

pytestmark = pytest.mark.unit


def test_round_trip_with_the_same_associated_data() -> None:
    key = aead.new_key()
    ad = aead.secret_ad("tenant-a", "openai", 1)
    blob = aead.encrypt(key, b"sk-live-123", ad)
    assert aead.decrypt(key, blob, ad) == b"sk-live-123"
    assert len(blob) == aead.NONCE_BYTES + len(b"sk-live-123") + aead.TAG_BYTES


def test_every_encryption_uses_a_fresh_nonce() -> None:
    key, ad = aead.new_key(), aead.secret_ad("t", "r", 1)
    blobs = {aead.encrypt(key, b"same", ad) for _ in range(50)}
    assert len(blobs) == 50
    assert len({blob[: aead.NONCE_BYTES] for blob in blobs}) == 50


@pytest.mark.parametrize(
    "other_ad",
    [
        aead.secret_ad("tenant-b", "openai", 1),  # another tenant
        aead.secret_ad("tenant-a", "anthropic", 1),  # another record
        aead.secret_ad("tenant-a", "openai", 2),  # another data-key version
        aead.personal_ad("tenant-a", "openai", "1", ""),  # another purpose
    ],
)
def test_other_associated_data_fails(other_ad: bytes) -> None:
    key = aead.new_key()
    blob = aead.encrypt(key, b"sk-live-123", aead.secret_ad("tenant-a", "openai", 1))
    with pytest.raises(aead.AuthenticationFailed):
        aead.decrypt(key, blob, other_ad)


def test_wrong_key_tampering_and_truncation_fail() -> None:
    key, ad = aead.new_key(), aead.secret_ad("t", "r", 1)
    blob = aead.encrypt(key, b"value", ad)
    with pytest.raises(aead.AuthenticationFailed):
        aead.decrypt(aead.new_key(), blob, ad)
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    with pytest.raises(aead.AuthenticationFailed):
        aead.decrypt(key, bytes(flipped), ad)
    for short in (b"", blob[: aead.NONCE_BYTES], blob[: aead.NONCE_BYTES + aead.TAG_BYTES - 1]):
        with pytest.raises(aead.AuthenticationFailed):
            aead.decrypt(key, short, ad)


def test_associated_data_encoding_is_unambiguous() -> None:
    assert aead.associated_data("p", "a:b", "c") != aead.associated_data("p", "a", "b:c")
    assert aead.associated_data("p", "ab", "") != aead.associated_data("p", "a", "b")
    assert aead.associated_data("p", 1) == aead.associated_data("p", "1")


def test_purposes_are_separated_even_with_equal_fields() -> None:
    # Both pairs encode the fields ("t", "1", "2"[, "3"]); only the purpose label differs.
    assert aead.data_key_ad("t", 1, "2") != aead.secret_ad("t", "1", 2)
    assert aead.subject_key_ad("t", "1", "2", "3") != aead.personal_ad("t", "1", "2", "3")
