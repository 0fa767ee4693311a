"""C2SP signed notes, tlog checkpoints and cosignature messages, byte for byte.

- signed-note: the text (ending in a newline), a blank line, then signature lines
  ``— <key name> <base64(4-byte key id || signature)>``; key id = the first four bytes of
  ``SHA-256(name || 0x0A || type || public key)``, type 0x01 for Ed25519 note signatures and
  0x04 for timestamped Ed25519 witness cosignatures.
- tlog-checkpoint: the text is ``<origin>\\n<size>\\n<base64 root>\\n`` (extension lines unused).
- tlog-cosignature: an Ed25519 cosignature signs ``cosignature/v1\\ntime <t>\\n`` + the text,
  and its signature bytes are the big-endian u64 timestamp then the 64-byte signature.

The cryptography itself is injected (adapters/audit/keys.py): this module only formats, parses
and routes each signature line to the verifier of its (name, key id).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_NAME = re.compile(r"[^\s+]+")


class NoteError(ValueError):
    """A note, checkpoint or key that is not in its format."""


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def check_key_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise NoteError(f"a key name is non-empty, without spaces or '+': {name!r}")
    return name


@dataclass(frozen=True)
class VerifierKey:
    """``<name>+<hex key id>+<base64(type || public key)>`` (the vkey encoding)."""

    name: str
    key_id: bytes
    signature_type: int
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        name, sep, rest = text.strip().partition("+")
        hex_id, sep2, material = rest.partition("+")
        if not (sep and sep2) or not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("a verifier key reads <name>+<8 hex digits>+<base64 key>")
        try:
            raw = base64.b64decode(material, validate=True)
        except binascii.Error as exc:
            raise NoteError("the verifier key's material is not base64") from exc
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("only Ed25519 keys (type 0x01 or 0x04) are supported")
        key = cls(check_key_name(name), bytes.fromhex(hex_id), raw[0], raw[1:])
        if key_id(key.name, key.signature_type, key.public_key) != key.key_id:
            raise NoteError(f"the key id of {key.name} does not match its key")
        return key

    def __str__(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # after the key id

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{DASH} {self.name} {blob}\n"


@dataclass(frozen=True)
class SignedNote:
    text: str
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, more: Iterable[NoteSignature]) -> SignedNote:
        seen = set(self.signatures)
        added = tuple(s for s in more if s not in seen)
        return SignedNote(self.text, self.signatures + added)


def parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(DASH + " "):
        raise NoteError("a signature line starts with an em dash and a space")
    name, sep, blob = line[2:].partition(" ")
    if not sep or " " in blob:
        raise NoteError("a signature line is: em dash, key name, base64 signature")
    try:
        raw = base64.b64decode(blob, validate=True)
    except binascii.Error as exc:
        raise NoteError("a signature is not base64") from exc
    if len(raw) < 5:
        raise NoteError("a signature holds a 4-byte key id and the signature bytes")
    return NoteSignature(check_key_name(name), raw[:4], raw[4:])


def parse_note(note: str) -> SignedNote:
    """Split a signed note into its text and signature lines (nothing verified yet)."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note has no control characters but newlines")
    if not note.endswith("\n"):
        raise NoteError("a note ends with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("a note has a blank line between its text and its signatures")
    text, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    signatures = tuple(parse_signature_line(line) for line in lines)
    if not signatures:
        raise NoteError("a note has at least one signature")
    return SignedNote(text, signatures)


class NoteVerifier(Protocol):
    """One trusted key: its name and id select the signature lines it checks."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: str, signature: bytes) -> bool: ...


def verified_by(note: SignedNote, verifiers: Sequence[NoteVerifier]) -> list[str]:
    """The names of the trusted keys whose signatures on the note verify. Signatures of
    unknown keys are ignored; one of a known key that fails rejects the note (NoteError)."""
    known = {(v.name, v.key_id): v for v in verifiers}
    names: list[str] = []
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if not verifier.verify(note.text, signature.signature):
            raise NoteError(f"the signature of {signature.name} does not verify")
        if signature.name not in names:
            names.append(signature.name)
    return names


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise NoteError("a checkpoint is origin, size and root hash lines, each non-empty")
        origin, size, root = lines[0], lines[1], lines[2]
        if not _DECIMAL.fullmatch(size):
            raise NoteError("a checkpoint's size is a decimal without leading zeroes")
        try:
            digest = base64.b64decode(root, validate=True)
        except binascii.Error as exc:
            raise NoteError("a checkpoint's root hash is base64") from exc
        if len(digest) != 32:
            raise NoteError("a checkpoint's root hash is 32 bytes")
        return cls(origin, int(size), digest)


def cosignature_message(timestamp: int, text: str) -> bytes:
    """What an Ed25519 (cosignature/v1) witness signs over a checkpoint's text."""
    if not 0 <= timestamp < 2**63:
        raise NoteError("a cosignature time is a POSIX timestamp below 2^63")
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()
