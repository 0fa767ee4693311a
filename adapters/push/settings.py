"""Push and audit knobs, read from the process environment (``CAIRN_PUSH_*``, ``CAIRN_AUDIT_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from domain.errors import InvalidInput

_ENV = {
    "heartbeat_s": "CAIRN_PUSH_HEARTBEAT_S",
    "buffer": "CAIRN_PUSH_BUFFER",
    "reauth_s": "CAIRN_PUSH_REAUTH_S",
    "max_subscribers": "CAIRN_PUSH_MAX_SUBSCRIBERS",
    "feed_batch": "CAIRN_PUSH_FEED_BATCH",
    "feed_heartbeat_s": "CAIRN_PUSH_FEED_HEARTBEAT_S",
    "audit_max_scan": "CAIRN_AUDIT_MAX_SCAN",
}


@dataclass(frozen=True)
class PushSettings:
    heartbeat_s: float = 15.0  # SSE comment / WebSocket heartbeat message interval
    buffer: int = 1024  # events buffered per subscriber before it must resume from the store
    reauth_s: float = 60.0  # how often a long stream re-checks its session, user and device
    max_subscribers: int = 10_000  # per API process; more get 503
    feed_batch: int = 256  # messages asked for per pull of the process's consumer
    feed_heartbeat_s: float = 1.0  # the consumer's idle heartbeat; 3 missed -> new consumer
    audit_max_scan: int = 10_000  # messages one audit page may examine before it answers

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PushSettings:
        values: dict[str, float | int] = {}
        for item in fields(cls):
            raw = env.get(_ENV[item.name])
            if not raw:
                continue
            try:
                value = float(raw) if item.type in ("float", float) else int(raw)
            except ValueError as exc:
                raise InvalidInput(f"{_ENV[item.name]}={raw!r} is not a number") from exc
            if value <= 0:
                raise InvalidInput(f"{_ENV[item.name]} must be positive, not {raw!r}")
            values[item.name] = value
        return cls(**values)  # type: ignore[arg-type]
