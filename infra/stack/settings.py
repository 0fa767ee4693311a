"""Where the local stack lives and which servers it must start (built from the one settings
object by the entry points: entrypoints/stack_commands.py `stack_settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYNC_INTERVAL_ALWAYS = "always"


@dataclass(frozen=True)
class StackSettings:
    """Where the stack lives. A URL that is set means: use that server, start nothing."""

    data_dir: Path
    nats_url: str | None = None
    nats_monitor_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    # "always" fsyncs every write before the ack; anything else can lose acknowledged events
    # on power loss (see FIELD-NOTES), so it is only for throwaway stacks.
    nats_sync_interval: str = SYNC_INTERVAL_ALWAYS
    startup_timeout: float = 30.0
