"""Who may see which event: the hook that decides, per subscriber, what is pushed.

The hub only ever offers a subscriber the events of its own tenant (events are indexed by the
tenant token of their subject, so another tenant's event is never even looked at); a
``Visibility`` can only narrow that further, e.g. later "only the runs of this user".
Catch-up from the store applies the same hook, so live and replayed streams agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from adapters.push.events import PushEvent


@dataclass(frozen=True, slots=True)
class Viewer:
    """The authenticated subscriber, as the push side needs it."""

    tenant: str  # the tenant token of the event subjects (the tenant id as text)
    user_id: str
    device_id: str | None = None
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Focus:
    """One aggregate a subscription asked to follow (e.g. one run): only its events are sent.
    It narrows what the viewer may see, never widens it (the visibility rule still applies)."""

    aggregate_type: str  # the subject token, e.g. "Run"
    aggregate_id: str

    def matches(self, event: PushEvent) -> bool:
        return event.aggregate_id == self.aggregate_id and event.aggregate_type == (
            self.aggregate_type
        )


class Visibility(Protocol):
    def __call__(self, viewer: Viewer, event: PushEvent) -> bool:
        """True if the viewer may receive the event (always of the viewer's tenant)."""
        ...


def same_tenant(viewer: Viewer, event: PushEvent) -> bool:
    """Today's rule: every event of the viewer's own tenant."""
    return event.tenant == viewer.tenant
