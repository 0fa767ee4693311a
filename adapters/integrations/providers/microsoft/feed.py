"""Graph subscriptions and delta sync (`/subscriptions`, `calendarView/delta`).

Graph checks the notification URL before it creates a subscription (the `validationToken`
echo, answered by the webhook route); a subscription is extended in place with PATCH. A delta
link Graph no longer knows answers 410: the caller starts over with a full sync.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from adapters.integrations.providers.client import ProviderClient
from commands.ports.calendar_sync import (
    CalendarItem,
    Changes,
    ChannelRecord,
    CursorExpired,
    OpenedChannel,
)

TIMEOUT = 20.0
STOP_TIMEOUT = 5.0  # a disconnect waits for it; a subscription not deleted expires on its own
MAX_PAGES = 100
DELTA = "/v1.0/me/calendarView/delta"
# The window a calendar view covers: what the planner may ask about.
WINDOW_PAST, WINDOW_AHEAD = timedelta(days=30), timedelta(days=365)


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphCalendarFeed:
    def __init__(self, client: ProviderClient, resource: str = "/me/events") -> None:
        self.client = client
        self.resource = resource  # what the subscription watches (the inbox: mail_feed.py)

    def watch(
        self,
        tenant: str,
        person: str,
        address: str,
        channel_id: str,
        secret: str,
        expires_at: datetime,
    ) -> OpenedChannel:
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "resource": self.resource,
            "expirationDateTime": _graph_time(expires_at),
            "clientState": secret,
        }
        answer = self.client.request(
            tenant,
            person,
            "calendar.watch",
            "POST",
            "/v1.0/subscriptions",
            json=body,
            timeout=TIMEOUT,
            accept=(200, 201),
        ).json()
        return OpenedChannel(str(answer["id"]), "", _parse(answer["expirationDateTime"]))

    def renew(
        self,
        tenant: str,
        person: str,
        old: ChannelRecord,
        address: str,
        channel_id: str,
        secret: str,
        expires_at: datetime,
    ) -> OpenedChannel:
        answer = self.client.request(
            tenant,
            person,
            "calendar.watch",
            "PATCH",
            f"/v1.0/subscriptions/{old.channel_id}",
            json={"expirationDateTime": _graph_time(expires_at)},
            timeout=TIMEOUT,
            accept=(200,),
        ).json()
        return OpenedChannel(old.channel_id, "", _parse(answer["expirationDateTime"]))

    def stop(self, tenant: str, person: str, channel: ChannelRecord) -> None:
        self.client.request(
            tenant,
            person,
            "calendar.watch",
            "DELETE",
            f"/v1.0/subscriptions/{channel.channel_id}",
            timeout=STOP_TIMEOUT,
            accept=(200, 204, 404),
        )

    def changes(self, tenant: str, person: str, cursor: str | None) -> Changes:
        if cursor is None:
            now = datetime.now(UTC)
            path = DELTA
            params = {
                "startDateTime": _graph_time(now - WINDOW_PAST),
                "endDateTime": _graph_time(now + WINDOW_AHEAD),
            }
        else:
            path, params = self._own(cursor)
        items: list[CalendarItem] = []
        removed: list[str] = []
        for _ in range(MAX_PAGES):
            answer = self.client.request(
                tenant,
                person,
                "calendar.sync",
                "GET",
                path,
                params=params,
                timeout=TIMEOUT,
                accept=(200, 410),
            )
            if answer.status_code == 410:
                raise CursorExpired("microsoft: delta link expired")
            body = answer.json()
            for entry in body.get("value") or []:
                if not isinstance(entry, dict):
                    continue
                if "@removed" in entry:
                    removed.append(str(entry["id"]))
                else:
                    items.append(_item(entry))
            if "@odata.deltaLink" in body:
                return Changes(items, removed, str(body["@odata.deltaLink"]), cursor is None)
            path, params = self._own(str(body["@odata.nextLink"]))
        raise CursorExpired("microsoft: too many pages; starting over")

    def _own(self, link: str) -> tuple[str, dict[str, str]]:
        """A next or delta link as a path and query under the configured base URL: a link
        to anywhere else would take the person's token there."""
        if not link.startswith(self.client.base_url + "/"):
            raise CursorExpired("microsoft: a link outside the API; starting over")
        parts = urlsplit(link)
        return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _item(entry: dict[str, Any]) -> CalendarItem:
    def when(side: str) -> str | None:
        value = entry.get(side)
        return value.get("dateTime") if isinstance(value, dict) else None

    return CalendarItem(
        item_id=str(entry["id"]),
        version=str(entry.get("@odata.etag") or entry.get("changeKey") or ""),
        title=entry.get("subject"),
        start=when("start"),
        end=when("end"),
        status="cancelled" if entry.get("isCancelled") else "confirmed",
        attendees=tuple(
            f"{a['emailAddress'].get('name') or ''} <{a['emailAddress']['address']}>".strip()
            for a in entry.get("attendees") or []
            if isinstance(a, dict) and (a.get("emailAddress") or {}).get("address")
        ),
    )
