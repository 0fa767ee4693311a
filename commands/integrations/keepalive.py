"""The keep-alive sweep: a worker timer per connection that refreshes it when nothing used it
for a while (providers expire refresh tokens left idle), then sets itself again.

A timer is only a reminder: the refresh goes through the same row lock as every other, and a
dead grant records `ReauthRequired` once there too.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from commands.integrations.connect import KEEP_ALIVE, KEEP_ALIVE_EVERY
from commands.integrations.lifecycle import FEED_OPEN, open_feed
from commands.integrations.ports import ConnectionsPorts
from commands.ports.connections import ConnectionMissing, ReauthNeeded
from commands.ports.timers import Timer

logger = logging.getLogger("cairn.integrations")

# Refreshed when idle this long; well inside Google's and Microsoft's idle limits.
IDLE = timedelta(days=3)


def is_connection_timer(timer: Timer) -> bool:
    return timer.kind in (KEEP_ALIVE, FEED_OPEN)


def on_connection_timer(timer: Timer, ports: ConnectionsPorts) -> None:
    if timer.kind == FEED_OPEN:
        open_feed(timer, ports)
    else:
        keep_alive(timer, ports)


def keep_alive(timer: Timer, ports: ConnectionsPorts) -> None:
    """Refresh if idle; set the next look unless the connection is gone or dead. A provider
    that is down raises `Unavailable`: the timer is put off and fired again."""
    try:
        alive = ports.tokens.keep_alive(str(timer.tenant_id), timer.subject_id, IDLE)
    except (ConnectionMissing, ReauthNeeded) as exc:
        logger.info("keep-alive of %s: %s; stopped", timer.subject_id, exc.code)
        return
    if alive:
        ports.timers.schedule(
            Timer(KEEP_ALIVE, timer.subject_id, timer.tenant_id, ports.clock() + KEEP_ALIVE_EVERY)
        )
