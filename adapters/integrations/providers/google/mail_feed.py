"""Gmail's inbox as a feed: `users.watch` (push through a Cloud Pub/Sub topic), delta sync with
`users.history.list` from the stored `historyId`, full sync with `messages.list`.

A `startHistoryId` Gmail no longer keeps answers 404: the caller starts over with a full sync.
A full sync takes the mailbox's `historyId` before it lists, so a change made while it lists
is in the next delta. Only metadata is fetched (`format=metadata`: From, Subject, the snippet),
never a body.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from adapters.integrations.providers.client import ProviderClient
from commands.ports.calendar_sync import (
    ChannelRecord,
    ChannelRequest,
    CursorExpired,
    OpenedChannel,
)
from commands.ports.integrations import ErrorKind, IntegrationError
from commands.ports.mail_sync import MailChanges, MailItem
from domain.integrations.mail_feed import gmail_channel_id

TIMEOUT = 20.0
STOP_TIMEOUT = 5.0  # a disconnect waits for it; a watch not stopped expires on its own
MAX_PAGES = 100
ME = "/gmail/v1/users/me"
INBOX = "INBOX"
METADATA = "format=metadata&metadataHeaders=From&metadataHeaders=Subject"


class GmailFeed:
    def __init__(self, client: ProviderClient, topic: str) -> None:
        self.client = client
        self.topic = topic  # projects/<project>/topics/<topic>, which Gmail may publish to

    def _get(self, tenant: str, person: str, path: str, **params: str) -> Any:
        return self.client.request(
            tenant, person, "mail.sync", "GET", path, params=params or None, timeout=TIMEOUT
        ).json()

    def watch(self, tenant: str, person: str, request: ChannelRequest) -> OpenedChannel:
        """Gmail sets the expiry itself (seven days) and names the mailbox in each push."""
        if not self.topic:  # not retryable: only a deployment with the setting can watch
            raise IntegrationError(
                ErrorKind.UNSUPPORTED,
                "no Pub/Sub topic configured for Gmail (CAIRN_GMAIL_PUBSUB_TOPIC)",
                provider="google",
                action="mail.watch",
            )
        profile = self._get(tenant, person, f"{ME}/profile")
        body = {"topicName": self.topic, "labelIds": [INBOX], "labelFilterBehavior": "INCLUDE"}
        answer = self.client.request(
            tenant,
            person,
            "mail.watch",
            "POST",
            f"{ME}/watch",
            json=body,
            timeout=TIMEOUT,
            accept=(200,),
        ).json()
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
        return OpenedChannel(gmail_channel_id(str(profile["emailAddress"])), "", expires)

    def renew(
        self, tenant: str, person: str, old: ChannelRecord, request: ChannelRequest
    ) -> OpenedChannel:
        return self.watch(tenant, person, request)

    def stop(self, tenant: str, person: str, channel: ChannelRecord) -> None:
        """`users.stop`: Gmail keeps one watch per mailbox, so there is nothing to name."""
        self.client.request(
            tenant,
            person,
            "mail.watch",
            "POST",
            f"{ME}/stop",
            timeout=STOP_TIMEOUT,
            accept=(200, 204, 404),
        )

    def changes(
        self, tenant: str, person: str, cursor: str | None, known: Collection[str]
    ) -> MailChanges:
        if cursor is None:
            return self._full(tenant, person, known)
        added: list[str] = []
        removed: list[str] = []
        page: str | None = None
        for _ in range(MAX_PAGES):
            params = {"startHistoryId": cursor, "labelId": INBOX}
            if page:
                params["pageToken"] = page
            answer = self.client.request(
                tenant,
                person,
                "mail.sync",
                "GET",
                f"{ME}/history",
                params=params,
                timeout=TIMEOUT,
                accept=(200, 404),
            )
            if answer.status_code == 404:
                raise CursorExpired("gmail: startHistoryId is too old")
            body = answer.json()
            for record in body.get("history") or []:
                _collect(record, added, removed)
            page = body.get("nextPageToken")
            if not page:
                fresh = [m for m in dict.fromkeys(added) if m not in known and m not in removed]
                items = self._details(tenant, person, fresh)
                return MailChanges(items, removed, str(body["historyId"]), full=False)
        raise CursorExpired("gmail: too many pages; starting over")

    def _full(self, tenant: str, person: str, known: Collection[str]) -> MailChanges:
        history_id = str(self._get(tenant, person, f"{ME}/profile")["historyId"])
        listed: list[str] = []
        page: str | None = None
        for _ in range(MAX_PAGES):
            params = {"labelIds": INBOX, "maxResults": "500"}
            if page:
                params["pageToken"] = page
            body = self._get(tenant, person, f"{ME}/messages", **params)
            listed += [str(m["id"]) for m in body.get("messages") or [] if isinstance(m, dict)]
            page = body.get("nextPageToken")
            if not page:
                items = self._details(tenant, person, [m for m in listed if m not in known])
                return MailChanges(items, [], history_id, full=True, listed=frozenset(listed))
        raise CursorExpired("gmail: too many pages in a full sync")

    def _details(self, tenant: str, person: str, message_ids: list[str]) -> list[MailItem]:
        items = []
        for message_id in message_ids:
            answer = self.client.request(
                tenant,
                person,
                "mail.sync",
                "GET",
                f"{ME}/messages/{quote(message_id, safe='')}?{METADATA}",
                timeout=TIMEOUT,
                accept=(200, 404),
            )
            if answer.status_code == 200:  # 404: deleted since it was listed
                items.append(_item(answer.json()))
        return items


def _collect(record: dict[str, Any], added: list[str], removed: list[str]) -> None:
    def ids(key: str, label_change: bool = False) -> list[str]:
        found = []
        for entry in record.get(key) or []:
            message = entry.get("message") if isinstance(entry, dict) else None
            if not isinstance(message, dict) or "id" not in message:
                continue
            if label_change and INBOX not in (entry.get("labelIds") or []):
                continue
            found.append(str(message["id"]))
        return found

    for message_id in ids("messagesAdded") + ids("labelsAdded", True):
        if message_id in removed:
            removed.remove(message_id)
        added.append(message_id)
    for message_id in ids("messagesDeleted") + ids("labelsRemoved", True):
        removed.append(message_id)


def _item(message: dict[str, Any]) -> MailItem:
    headers = {
        str(h.get("name", "")).lower(): str(h.get("value", ""))
        for h in (message.get("payload") or {}).get("headers") or []
        if isinstance(h, dict)
    }
    internal = message.get("internalDate")
    received = (
        datetime.fromtimestamp(int(internal) / 1000, UTC).isoformat()
        if isinstance(internal, str) and internal.isdigit()
        else None
    )
    return MailItem(
        message_id=str(message["id"]),
        sender=headers.get("from", ""),
        subject=headers.get("subject", ""),
        snippet=str(message.get("snippet") or ""),
        received_at=received,
        thread_id=str(message["threadId"]) if message.get("threadId") else None,
    )
