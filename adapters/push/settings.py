"""Push and audit knobs of one API process (read from ``CAIRN_PUSH_*`` and ``CAIRN_AUDIT_*``
by the one settings object, commands/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PushSettings:
    heartbeat_s: float = 15.0  # SSE comment / WebSocket heartbeat message interval
    buffer: int = 1024  # events buffered per subscriber before it must resume from the store
    reauth_s: float = 60.0  # how often a long stream re-checks its session, user and device
    max_subscribers: int = 10_000  # per API process; more get 503
    feed_batch: int = 256  # messages asked for per pull of the process's consumer
    feed_heartbeat_s: float = 1.0  # the consumer's idle heartbeat; 3 missed -> new consumer
    audit_max_scan: int = 10_000  # messages one audit page may examine before it answers
