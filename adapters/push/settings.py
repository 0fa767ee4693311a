"""Push and audit knobs of one API process (read from ``CAIRN_PUSH_*`` and ``CAIRN_AUDIT_*``
by the one settings object, commands/settings.py)."""

from __future__ import annotations

from commands.ports.push import PushSettings

__all__ = ["PushSettings"]
