"""Signed notes, checkpoints and cosignatures against published vectors and their formats."""

from __future__ import annotations

import base64

import pytest

from adapters.audit.keys import Ed25519Signer, Ed25519Verifier
from domain.audit.note import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    SignedNote,
    VerifierKey,
    key_id,
    parse_note,
    verified_by,
)

pytestmark = pytest.mark.unit

# The example of golang.org/x/mod/sumdb/note (note.go and note_test.go, BSD-3-Clause): Ed25519
# is deterministic, so signing its text with its key must give its signature line exactly.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_go_note_vector_byte_for_byte() -> None:
    signer = Ed25519Signer.parse(GO_SIGNER)
    assert str(signer) == GO_SIGNER
    assert str(signer.verifier_key) == GO_VERIFIER
    assert str(SignedNote(GO_TEXT, (signer.sign(GO_TEXT),))) == GO_NOTE
    note = parse_note(GO_NOTE)
    assert note.text == GO_TEXT
    assert verified_by(note, [Ed25519Verifier.parse(GO_VERIFIER)]) == ["PeterNeumann"]


def test_a_changed_text_or_a_bad_key_is_refused() -> None:
    verifier = Ed25519Verifier.parse(GO_VERIFIER)
    with pytest.raises(NoteError):
        verified_by(parse_note(GO_NOTE.replace("cryptography", "cryptographY")), [verifier])
    with pytest.raises(NoteError):
        VerifierKey.parse(GO_VERIFIER.replace("c74f20a3", "c74f20a4"))
    # An unknown key's signature is ignored, not trusted.
    other = Ed25519Signer.generate("PeterNeumann")
    assert verified_by(parse_note(GO_NOTE), [Ed25519Verifier(other.verifier_key)]) == []


def test_checkpoint_body_and_key_id() -> None:
    root = bytes(range(32))
    checkpoint = Checkpoint("example.com/log", 20852163, root)
    assert checkpoint.text() == (
        "example.com/log\n20852163\n" + base64.b64encode(root).decode() + "\n"
    )
    assert Checkpoint.parse(checkpoint.text()) == checkpoint
    for bad in ("o\n012\nAA==\n", "o\n1\n" + base64.b64encode(root).decode(), "o\n\nAA==\n"):
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)
    signer = Ed25519Signer.generate("example.com/log")
    public = signer.verifier_key.public_key
    import hashlib

    expected = hashlib.sha256(b"example.com/log\n\x01" + public).digest()[:4]
    assert key_id("example.com/log", 1, public) == expected == signer.verifier_key.key_id


def test_cosignature_v1_is_timestamped_and_bound_to_the_text() -> None:
    witness = Ed25519Signer.generate("witness.example/w1", COSIGNATURE_V1)
    text = Checkpoint("example.com/log", 5, bytes(32)).text()
    cosig = witness.sign(text, now=1679315147)
    assert cosig.signature[:8] == (1679315147).to_bytes(8, "big")
    assert len(cosig.signature) == 72
    verifier = Ed25519Verifier(witness.verifier_key)
    assert verifier.verify(text, cosig.signature)
    assert not verifier.verify(text.replace("5", "6"), cosig.signature)
    stamped = bytearray(cosig.signature)
    stamped[7] ^= 1  # another time: the signature no longer matches
    assert not verifier.verify(text, bytes(stamped))
    assert str(witness).startswith("PRIVATE+KEY+witness.example/w1+")
