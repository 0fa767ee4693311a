"""Forget the webhook notifications seen before the replay window (a worker timer, set again
by each pruning, and set to now by each worker at start).

A seen notification is kept only to refuse its replay. A notification older than the window
is refused without it: a Google channel lives at most `FeedSync.channel_ttl` (its
notifications are refused once it expired or was replaced), and a Graph notification states
its subscription's expiry then, which the webhook route checks against the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from commands.ports.calendar_sync import FeedStore
from commands.ports.timers import Timer, Timers

PRUNE = "integrations.seen_pruning"
# A day longer than any channel lives (three days): late deliveries and clock skew included.
REPLAY_WINDOW = timedelta(days=4)
EVERY = timedelta(hours=1)
# The service's own timer, of no tenant.
_SUBJECT, _NO_TENANT = UUID(int=1), UUID(int=0)


def prune_soon(timers: Timers, now: datetime) -> None:
    timers.schedule(Timer(PRUNE, _SUBJECT, _NO_TENANT, now))


def prune_seen(
    store: FeedStore, timers: Timers, now: datetime, window: timedelta = REPLAY_WINDOW
) -> int:
    """Forget what was seen before `now - window`, set the next pruning; how many went."""
    forgotten = store.forget_seen(now - window)
    timers.schedule(Timer(PRUNE, _SUBJECT, _NO_TENANT, now + EVERY))
    return forgotten
