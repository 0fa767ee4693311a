"""NATS protocol lines as nats-server writes them, for tests of the readers of a connection."""

from __future__ import annotations


def msg(subject: bytes, sid: int, reply: bytes, payload: bytes) -> bytes:
    reply_part = b" " + reply if reply else b""
    return b"MSG %s %d%s %d\r\n%s\r\n" % (subject, sid, reply_part, len(payload), payload)


def hmsg(subject: bytes, sid: int, reply: bytes, headers: bytes, payload: bytes) -> bytes:
    reply_part = b" " + reply if reply else b""
    size = len(headers) + len(payload)
    return b"HMSG %s %d%s %d %d\r\n%s%s\r\n" % (
        subject,
        sid,
        reply_part,
        len(headers),
        size,
        headers,
        payload,
    )
