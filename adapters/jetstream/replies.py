"""Decoding raw replies of bulk reads: NATS header blocks and payloads, without nats-py's ``Msg``.

A header block is what follows ``HMSG`` on the wire: ``NATS/1.0[ <status>[ <description>]]``,
then ``Name: value`` lines, each ending with CRLF, then an empty line. Reading a replay, the
few headers a notification needs are found by searching the block for ``CRLF + name + ':'``
(a name is only matched at the start of a line, and a value cannot contain CRLF); that is
several times faster than splitting every line into a dict, which the batches of a replay
did per message. Where several lines carry one name, the last wins, as in nats-py.
"""

from __future__ import annotations

import re
from typing import Final
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.jetstream import headers as h

# One message of a batched direct get: (header block, payload).
RawMsg = tuple[bytes, bytes]
# A decoded message, with its stream sequence first.
RawItem = tuple[int, RawMsg]

PREFIX: Final = b"NATS/1.0"
DESCRIPTION: Final = "Description"  # nats-py's header name for a status line's text
_CRLF: Final = b"\r\n"
# What ``bytes.strip()`` strips; ``str.strip()`` would also strip \x1c-\x1f.
_BYTES_WHITESPACE: Final = " \t\n\r\x0b\x0c"
# Whatever ``str.isspace()`` holds for, as nats-py checks a name.
_WHITESPACE: Final = re.compile(r"\s")


def header_key(name: str) -> bytes:
    """What a header line starts with, CRLF before it included (see ``value``)."""
    return b"\r\n" + name.encode() + b":"


_SEQUENCE: Final = header_key(h.NATS_SEQUENCE)
_SUBJECT: Final = header_key(h.NATS_SUBJECT)
_PENDING: Final = header_key(h.NATS_NUM_PENDING)
_TOPIC: Final = header_key(h.TOPIC)
_VERSION: Final = header_key(h.VERSION)
EVENT_SEQUENCE_KEY: Final = header_key(h.EVENT_SEQUENCE)


def value(block: bytes, key: bytes) -> bytes | None:
    """The raw value of the last header line ``key`` (``CRLF + name + ':'``), stripped."""
    start = block.rfind(key)
    if start < 0:
        return None
    start += len(key)
    return block[start : block.find(_CRLF, start)].strip()


def text(block: bytes, key: bytes) -> str | None:
    raw = value(block, key)
    return None if raw is None else raw.decode("utf-8", "replace")


def header(block: bytes | None, key: bytes) -> str | None:
    """``text`` of a delivery's block, if it has one: the value of the last line that begins
    with ``key``, as the headers dict has it for every line Cairn and nats-server write
    (``Name: value``). None when no line begins so: a line with a space before its colon is
    only in the dict, so a consumer's skip must take None as "cannot tell" (decision 0062)."""
    return None if block is None else text(block, key)


def number(block: bytes, key: bytes) -> int:
    """An integer header; KeyError when it is missing, like a lookup in nats-py's dict."""
    raw = value(block, key)
    if raw is None:
        raise KeyError(key[2:-1].decode())
    return int(raw)


def is_status(block: bytes | None) -> bool:
    """True for a status message (``NATS/1.0 204 EOB``): a space follows the version."""
    return block is not None and block[len(PREFIX) : len(PREFIX) + 1] == b" "


def status(block: bytes) -> tuple[str | None, str]:
    """Status code and description of a status line, as nats-py reads them (three characters
    after the version, a code only if they are digits; the rest of the line describes it)."""
    line = block.split(_CRLF, 1)[0][len(PREFIX) + 1 :]
    code = line[:3].strip().decode("ascii", "replace")
    return (code if code.isdigit() else None), line[4:].decode("utf-8", "replace")


def parse_headers(block: bytes | None) -> dict[str, str]:
    """All header lines as a dict, as nats-py builds it (``Client._parse_header_lines``:
    names ASCII without whitespace, values stripped as bytes and decoded as UTF-8 with
    replacement, the last of a name wins); the status line is not included.

    A block that is all ASCII (every block Cairn writes) is decoded once and split as text,
    which gives the same dict for less CPU than decoding line by line (decision 0060); any
    other block is read line by line as nats-py reads it."""
    if not block:
        return {}
    if block.isascii():
        return _ascii_headers(block.decode("ascii"))
    out: dict[str, str] = {}
    for line in block.split(b"\r\n")[1:]:
        name, sep, val = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if not any(c.isspace() for c in key):
            out[key] = val.strip().decode("utf-8", "replace")
    return out


def _ascii_headers(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.split("\r\n")[1:]:
        name, sep, val = line.partition(":")
        if not sep:
            continue
        key = name.strip(_BYTES_WHITESPACE)
        if _WHITESPACE.search(key) is None:
            out[key] = val.strip(_BYTES_WHITESPACE)
    return out


def nats_headers(block: bytes | None) -> dict[str, str] | None:
    """A header block as nats-py makes it a ``Msg``'s headers: a status line's code as
    ``Status`` (if it is a number) and its text as ``Description``, then the lines; None for
    no block, or one with nothing in it."""
    if not block:
        return None
    out: dict[str, str] = {}
    if is_status(block):
        code, description = status(block)
        if code is not None:
            out[h.STATUS] = code
        if description:
            out[DESCRIPTION] = description
    out.update(parse_headers(block))
    return out or None


def seq_of(block: bytes) -> int:
    return number(block, _SEQUENCE)


def pending_of(block: bytes) -> int | None:
    raw = value(block, _PENDING)
    return int(raw) if raw else None


def subject_of(block: bytes) -> str | None:
    return text(block, _SUBJECT)


def topic_of(block: bytes) -> str | None:
    return text(block, _TOPIC)


def version_of(block: bytes) -> int:
    return number(block, _VERSION)


def raw(messages: list[RawMsg]) -> list[RawItem]:
    """Messages kept raw, with their sequences."""
    return [(number(block, _SEQUENCE), (block, data)) for block, data in messages]


def stored_event(block: bytes, data: bytes, originator_id: UUID | str) -> StoredEvent:
    topic = topic_of(block)
    if topic is None:
        raise KeyError(h.TOPIC)
    return StoredEvent(
        originator_id=originator_id,
        originator_version=version_of(block),
        topic=topic,
        state=data,
    )


def ack_fields(reply: bytes) -> list[bytes]:
    """The fields of a JetStream delivery's reply subject, in the short form
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``
    (the long form, with domain and account hash after ``ACK``, is shortened to it)."""
    tokens = reply.split(b".")
    if len(tokens) >= 11:
        del tokens[2:4]
    if len(tokens) < 9:
        raise ValueError(f"not a JetStream reply subject: {reply!r}")
    return tokens
