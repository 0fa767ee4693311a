"""The seen webhook notifications are pruned by a worker timer: what was seen before the
replay window goes, a replay inside the window is still refused, and the pruning sets its own
next time. A notification older than the window is refused without its row: its channel has
ended (commands/integrations/pruning.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from commands.bootstrap import Services, bootstrap
from commands.integrations.channels import secret_hash
from commands.integrations.pruning import EVERY, PRUNE, REPLAY_WINDOW
from commands.integrations.sync import SYNC, Verdict, WebhookRejected
from commands.ports.calendar_sync import ChannelRecord
from commands.settings import CairnSettings
from domain.event_context import EventContext
from domain.integrations.sync import CalendarFeed
from infra.stack.launcher import StackEndpoints
from tests.support.cairn_settings import isolated_settings
from tests.support.workers import worker_thread

pytestmark = pytest.mark.integration

SECRET = "channel-secret-7f3a"


@pytest.fixture
def settings(
    stack: StackEndpoints, migrated_database_url: str, unique_name: str, tmp_path: Path
) -> CairnSettings:
    return isolated_settings(stack, migrated_database_url, unique_name, tmp_path)


@pytest.fixture
def services(settings: CairnSettings) -> Iterator[Services]:
    built = bootstrap(settings)
    yield built
    built.close()


def sql(settings: CairnSettings, statement: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, args)
        return cursor.fetchall() if cursor.description else []


def channel(feed: CalendarFeed, channel_id: str, expires_at: datetime) -> ChannelRecord:
    return ChannelRecord(
        channel_id,
        feed.id,
        feed.tenant,
        feed.person,
        "google",
        f"res-{channel_id}",
        secret_hash(SECRET),
        expires_at,
    )


def test_the_worker_prunes_what_was_seen_before_the_window_and_replays_stay_refused(
    settings: CairnSettings, services: Services
) -> None:
    feeds = services.feeds
    now = datetime.now(UTC)
    feed = CalendarFeed(tenant=str(uuid.uuid4()), person=str(uuid.uuid4()), provider="google")
    feeds.app.save(feed, context=EventContext(tenant=feed.tenant, actor="test"))
    feeds.store.save_channel(channel(feed, "live", now + timedelta(days=3)))
    feeds.store.save_channel(channel(feed, "ended", now - timedelta(days=2)))

    def notify(channel_id: str, number: int) -> Verdict:
        return feeds.notification(
            "google", channel_id, SECRET, f"message:{number}", resource_id=f"res-{channel_id}"
        )

    assert notify("live", 1) is Verdict.ACCEPTED
    assert notify("live", 2) is Verdict.ACCEPTED
    # Seen long ago: message 1 (as if the clock had moved on) and one of the ended channel.
    sql(settings, "INSERT INTO provider_notifications_seen VALUES ('ended', 'message:9')")
    old = f"{(REPLAY_WINDOW + timedelta(hours=1)).total_seconds()} seconds"
    sql(
        settings,
        "UPDATE provider_notifications_seen SET seen_at = now() - %s::interval"
        " WHERE notification IN ('message:1', 'message:9')",
        old,
    )
    sql(settings, "DELETE FROM timers WHERE kind = %s", SYNC)  # no provider API to sync with

    with worker_thread(settings, services):  # sets the pruning to now as it starts
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sql(
            settings,
            "SELECT 1 FROM provider_notifications_seen WHERE seen_at < now() - %s::interval",
            "1 day",
        ):
            time.sleep(0.05)

    seen = sql(settings, "SELECT channel_id, notification FROM provider_notifications_seen")
    assert seen == [("live", "message:2")]
    assert notify("live", 2) is Verdict.DUPLICATE  # a replay inside the window
    with pytest.raises(WebhookRejected):
        notify("ended", 9)  # its row is gone, its channel too
    [(due,)] = sql(settings, "SELECT due_at FROM timers WHERE kind = %s", PRUNE)
    assert isinstance(due, datetime) and due > now + EVERY - timedelta(minutes=5)
