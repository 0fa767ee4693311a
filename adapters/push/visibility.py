"""Who may see which event: the hook that decides, per subscriber, what is pushed.

The hub only ever offers a subscriber the events of its own tenant (events are indexed by the
tenant token of their subject, so another tenant's event is never even looked at); a
``Visibility`` can only narrow that further, e.g. later "only the runs of this user".
Catch-up from the store applies the same hook, so live and replayed streams agree.
"""

from __future__ import annotations

from typing import Protocol

from adapters.push.events import PushEvent
from commands.ports.push import Viewer


class Visibility(Protocol):
    def __call__(self, viewer: Viewer, event: PushEvent) -> bool:
        """True if the viewer may receive the event (always of the viewer's tenant)."""
        ...


def same_tenant(viewer: Viewer, event: PushEvent) -> bool:
    """Today's rule: every event of the viewer's own tenant."""
    return event.tenant == viewer.tenant
