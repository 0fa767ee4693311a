"""Google Calendar push channels and incremental sync (`events.watch`, `syncToken`).

Channels carry no data and do not renew themselves: a new channel replaces the old before it
expires, and the old one is stopped. A sync token Google no longer knows answers 410
`fullSyncRequired`: the caller starts over with a full sync.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.google.calendar import EVENTS
from commands.ports.calendar_sync import (
    CalendarItem,
    Changes,
    ChannelRecord,
    ChannelRequest,
    CursorExpired,
    OpenedChannel,
)

TIMEOUT = 20.0
STOP_TIMEOUT = 5.0  # a disconnect waits for it; a channel not stopped expires on its own
MAX_PAGES = 100  # a calendar of 25,000 events at Google's default page size of 250


class GoogleCalendarFeed:
    def __init__(self, client: ProviderClient) -> None:
        self.client = client

    def watch(self, tenant: str, person: str, request: ChannelRequest) -> OpenedChannel:
        body = {
            "id": request.channel_id,
            "type": "web_hook",
            "address": request.address,
            "token": request.secret,
            "expiration": str(int(request.expires_at.timestamp() * 1000)),
        }
        answer = self.client.request(
            tenant,
            person,
            "calendar.watch",
            "POST",
            f"{EVENTS}/watch",
            json=body,
            timeout=TIMEOUT,
            accept=(200,),
        ).json()
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
        return OpenedChannel(answer["id"], answer["resourceId"], expires)

    def renew(
        self, tenant: str, person: str, old: ChannelRecord, request: ChannelRequest
    ) -> OpenedChannel:
        opened = self.watch(tenant, person, request)
        # Stopped only once the new one runs: no gap without notifications.
        self.stop(tenant, person, old)
        return opened

    def stop(self, tenant: str, person: str, channel: ChannelRecord) -> None:
        self.client.request(
            tenant,
            person,
            "calendar.watch",
            "POST",
            "/calendar/v3/channels/stop",
            json={"id": channel.channel_id, "resourceId": channel.resource_id},
            timeout=STOP_TIMEOUT,
            accept=(200, 204, 404),
        )

    def changes(self, tenant: str, person: str, cursor: str | None) -> Changes:
        items: list[CalendarItem] = []
        page: str | None = None
        for _ in range(MAX_PAGES):
            params = {"syncToken": cursor} if cursor else {"singleEvents": "false"}
            if page:
                params["pageToken"] = page
            answer = self.client.request(
                tenant,
                person,
                "calendar.sync",
                "GET",
                EVENTS,
                params=params,
                timeout=TIMEOUT,
                accept=(200, 410),
            )
            if answer.status_code == 410:
                raise CursorExpired("google: sync token expired")
            body = answer.json()
            items += [_item(e) for e in body.get("items") or [] if isinstance(e, dict)]
            page = body.get("nextPageToken")
            if not page:
                return Changes(items, [], str(body["nextSyncToken"]), full=cursor is None)
        raise CursorExpired("google: too many pages; starting over")


def _item(event: dict[str, Any]) -> CalendarItem:
    def when(side: str) -> str | None:
        value = event.get(side)
        return value.get("dateTime") or value.get("date") if isinstance(value, dict) else None

    return CalendarItem(
        item_id=str(event["id"]),
        version=str(event.get("etag") or event.get("updated") or ""),
        title=event.get("summary"),
        start=when("start"),
        end=when("end"),
        status=str(event.get("status") or "confirmed"),
        attendees=tuple(
            f"{a.get('displayName') or ''} <{a['email']}>".strip()
            for a in event.get("attendees") or []
            if isinstance(a, dict) and a.get("email") and not a.get("self")
        ),
    )
