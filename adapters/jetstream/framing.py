"""NATS protocol frames (``HPUB``) for appends, built directly into one buffer.

nats-py's ``publish()`` encodes a header dict, validates it and queues one command per
message: at 100 messages per save that cost more client CPU than anything else in an append.
Here the constant header lines of a save are encoded once, each message adds only its own
lines, and all messages of one JetStream atomic batch become one ``bytes`` written to the
connection at once.

A frame's header lines must be valid: names are the module's constants, values come from
:func:`headers.header_line` (which refuses line breaks) or are numbers and tokens built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from adapters.jetstream import headers as h

HEADER_LINE: Final = b"NATS/1.0\r\n"
CRLF: Final = b"\r\n"
_BATCH_ID: Final = h.BATCH_ID.encode() + b": "
_BATCH_SEQ: Final = h.BATCH_SEQ.encode() + b": %d\r\n"
_BATCH_COMMIT: Final = h.BATCH_COMMIT.encode() + b": 1\r\n"
# Room taken by the protocol and batch headers around a frame's own header lines: the
# NATS/1.0 line, batch id (at most 64 characters here), sequence, commit, the blank line.
BATCH_OVERHEAD: Final = (
    len(HEADER_LINE) + len(_BATCH_ID) + 64 + 2 + len(_BATCH_SEQ) + 8 + len(_BATCH_COMMIT) + 2
)


# One message: subject, header lines (``Name: value\r\n`` each), payload. A plain tuple: a
# save builds one per event, and a named tuple costs several times as much to make.
Frame = tuple[bytes, bytes, bytes]


def single(frame: Frame, reply: bytes) -> bytes:
    """One message, not part of a batch, with a reply subject for JetStream's ack."""
    subject, headers, payload = frame
    size = len(HEADER_LINE) + len(headers) + 2
    return b"".join(
        (
            b"HPUB %s %s %d %d\r\n" % (subject, reply, size, size + len(payload)),
            HEADER_LINE,
            headers,
            CRLF,
            payload,
            CRLF,
        )
    )


def atomic_batch(frames: Sequence[Frame], batch_id: str, reply: bytes) -> bytes:
    """All messages of one JetStream atomic batch; the last one commits and gets the reply."""
    if not frames:
        raise ValueError("an atomic batch needs at least one message")
    if len(batch_id) > 64 or not batch_id.isascii() or not batch_id.isalnum():
        raise ValueError(f"invalid batch id {batch_id!r}")
    id_line = _BATCH_ID + batch_id.encode() + CRLF
    fixed = len(HEADER_LINE) + len(id_line) + 2
    last = len(frames)
    parts: list[bytes] = []
    add = parts.append
    for number, (subject, headers, payload) in enumerate(frames, start=1):
        seq_line = _BATCH_SEQ % number
        if number == last:
            seq_line += _BATCH_COMMIT
            subject += b" " + reply
        size = fixed + len(headers) + len(seq_line)
        add(b"HPUB %s %d %d\r\n" % (subject, size, size + len(payload)))
        add(HEADER_LINE)
        add(headers)
        add(id_line)
        add(seq_line)
        add(CRLF)
        add(payload)
        add(CRLF)
    return b"".join(parts)
