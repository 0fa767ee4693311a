"""The channel events both feeds share (domain/integrations/channel.py) are each feed's own:
stored under the feed's topics, and a feed read back from the store has its channel state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eventsourcing.utils import get_topic

from commands.integrations.sync import FeedsApplication
from domain.event_context import EventContext
from domain.integrations.mail_feed import MailFeed
from domain.integrations.sync import CalendarFeed

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("feed_class", "module"),
    [(CalendarFeed, "domain.integrations.sync"), (MailFeed, "domain.integrations.mail_feed")],
)
def test_each_feed_stores_the_channel_events_under_its_own_topics(
    feed_class: type[CalendarFeed | MailFeed], module: str
) -> None:
    app = FeedsApplication()
    feed = feed_class(tenant="t", person="p", provider="google")
    expires = datetime(2026, 12, 9, tzinfo=UTC)
    feed.open_channel("c1", expires)
    feed.notified("c1", "n1")
    feed.start_full_resync("the provider expired the sync cursor")
    feed.renew_channel("c2", expires)
    feed.close("disconnected")
    feed.close("disconnected again")  # closed already: nothing new
    app.save(feed, context=EventContext(tenant="t", actor="test"))

    stored = [get_topic(type(e)) for e in app.events.get(feed.id)]
    name = feed_class.__name__
    assert stored[1:] == [
        f"{module}:{name}.{event}"
        for event in (
            "ChannelOpened",
            "ChangeNotified",
            "FullResyncStarted",
            "ChannelRenewed",
            "FeedClosed",
        )
    ]
    again: object = app.repository.get(feed.id)
    assert isinstance(again, feed_class)
    assert (again.closed, again.channel_id, again.notifications) == (True, None, 1)
    assert again.version == 6
