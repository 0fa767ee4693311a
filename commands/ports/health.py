"""Readiness: whether the servers Cairn needs answer now. Implemented by `adapters/health`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    error: str | None = None
    latency_ms: float | None = None


class ReadinessCheck(Protocol):
    async def __call__(self) -> list[ProbeResult]:
        """Ask every server at once; each answers (or is reported down) within a few seconds.
        Never raises: a failure is a result with `ok` false and the error's first line."""
        ...
