"""Graph subscriptions: the push channel of the calendar feed (feed.py) and of the inbox
(mail_feed.py), which differ only in the resource watched; and the paging of their delta
queries, which differ only in what a page holds.

Graph checks the notification URL before it creates a subscription (the `validationToken`
echo, answered by the webhook route); a subscription is extended in place with PATCH.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from adapters.integrations.providers.client import ProviderClient
from commands.ports.calendar_sync import (
    ChannelRecord,
    ChannelRequest,
    CursorExpired,
    OpenedChannel,
)

# The inbox's subscription is logged under the calendar's action name too, as it always was.
ACTION = "calendar.watch"
TIMEOUT = 20.0
STOP_TIMEOUT = 5.0  # a disconnect waits for it; a subscription not deleted expires on its own
MAX_PAGES = 100


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class GraphSubscriptions:
    def __init__(self, client: ProviderClient, resource: str) -> None:
        self.client = client
        self.resource = resource  # what the subscription watches

    def watch(self, tenant: str, person: str, request: ChannelRequest) -> OpenedChannel:
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": request.address,
            "resource": self.resource,
            "expirationDateTime": graph_time(request.expires_at),
            "clientState": request.secret,
        }
        answer = self.client.request(
            tenant,
            person,
            ACTION,
            "POST",
            "/v1.0/subscriptions",
            json=body,
            timeout=TIMEOUT,
            accept=(200, 201),
        ).json()
        return OpenedChannel(str(answer["id"]), "", parse_time(answer["expirationDateTime"]))

    def renew(
        self, tenant: str, person: str, old: ChannelRecord, request: ChannelRequest
    ) -> OpenedChannel:
        answer = self.client.request(
            tenant,
            person,
            ACTION,
            "PATCH",
            f"/v1.0/subscriptions/{old.channel_id}",
            json={"expirationDateTime": graph_time(request.expires_at)},
            timeout=TIMEOUT,
            accept=(200,),
        ).json()
        return OpenedChannel(old.channel_id, "", parse_time(answer["expirationDateTime"]))

    def stop(self, tenant: str, person: str, channel: ChannelRecord) -> None:
        self.client.request(
            tenant,
            person,
            ACTION,
            "DELETE",
            f"/v1.0/subscriptions/{channel.channel_id}",
            timeout=STOP_TIMEOUT,
            accept=(200, 204, 404),
        )

    def _delta(
        self,
        tenant: str,
        person: str,
        action: str,
        path: str,
        params: dict[str, str],
        expired: str,
    ) -> Iterator[dict[str, Any]]:
        """The pages of a delta query, the last one holding `@odata.deltaLink`. Raises
        `CursorExpired` for a link Graph no longer knows (410), a link outside the API or
        too many pages."""
        for _ in range(MAX_PAGES):
            answer = self.client.request(
                tenant,
                person,
                action,
                "GET",
                path,
                params=params,
                timeout=TIMEOUT,
                accept=(200, 410),
            )
            if answer.status_code == 410:
                raise CursorExpired(expired)
            body: dict[str, Any] = answer.json()
            yield body
            if "@odata.deltaLink" in body:
                return
            path, params = self._own(str(body["@odata.nextLink"]))
        raise CursorExpired("microsoft: too many pages; starting over")

    def _own(self, link: str) -> tuple[str, dict[str, str]]:
        """A next or delta link as a path and query under the configured base URL: a link
        to anywhere else would take the person's token there."""
        if not link.startswith(self.client.base_url + "/"):
            raise CursorExpired("microsoft: a link outside the API; starting over")
        parts = urlsplit(link)
        return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
