"""Synced-calendar activity for the projection tests' generator: feeds opened, items synced
(new or at a new version, some at a moved time) and removed."""

from __future__ import annotations

import uuid
from typing import Any

from domain.integrations.sync import CalendarFeed


def calendar_activity(generator: Any, tenant: uuid.UUID, n: int) -> CalendarFeed:
    feeds: list[CalendarFeed] = generator.feeds.setdefault(tenant, [])
    draw = generator.random
    if not feeds or draw.random() < 0.1:
        provider = draw.choice(["google", "microsoft"])
        opened = CalendarFeed(tenant=str(tenant), person=f"person{len(feeds)}", provider=provider)
        feeds.append(opened)
        return opened
    feed: CalendarFeed = draw.choice(feeds)
    if feed.items and draw.random() < 0.2:
        feed.remove_item(draw.choice(sorted(feed.items)))
        return feed
    day, hour = draw.randrange(1, 29), draw.randrange(8, 18)
    fields = {
        "start": f"2026-12-{day:02d}T{hour:02d}:00:00Z",
        "end": f"2026-12-{day:02d}T{hour:02d}:30:00Z",
        "status": "confirmed",
    }
    feed.sync_item(f"e{draw.randrange(40)}", f"v{n}", {"title": f"pii:v1:sealed{n}"}, fields)
    return feed
