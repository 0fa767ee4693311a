"""The Graph inbox as a feed: a subscription on `/me/mailFolders('Inbox')/messages` (the same
validation handshake, `clientState` and renewal as the calendar's: subscriptions.py) and delta
sync with `/me/mailFolders/inbox/messages/delta` and its `@odata.deltaLink`.

A delta link Graph no longer knows answers 410 `syncStateNotFound`: the caller starts over with
a full sync. Only the fields Cairn keeps are selected (`bodyPreview`, never `body`).
"""

from __future__ import annotations

from collections.abc import Collection
from email.utils import formataddr
from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.microsoft.subscriptions import GraphSubscriptions
from commands.ports.mail_sync import MailChanges, MailItem

INBOX = "/me/mailFolders('Inbox')/messages"
DELTA = "/v1.0/me/mailFolders/inbox/messages/delta"
EXPIRED = "microsoft: mail delta link expired"
SELECT = "subject,from,bodyPreview,receivedDateTime,conversationId"


class GraphMailFeed(GraphSubscriptions):
    def __init__(self, client: ProviderClient) -> None:
        super().__init__(client, INBOX)

    def changes(
        self, tenant: str, person: str, cursor: str | None, known: Collection[str]
    ) -> MailChanges:
        if cursor is None:
            path, params = DELTA, {"$select": SELECT}
        else:
            # A link outside the configured API would take the person's token elsewhere.
            path, params = self._own(cursor)
        items: list[MailItem] = []
        removed: list[str] = []
        listed: set[str] = set()
        body: dict[str, Any] = {}
        for body in self._delta(tenant, person, "mail.sync", path, params, EXPIRED):
            for entry in body.get("value") or []:
                if not isinstance(entry, dict) or "id" not in entry:
                    continue
                if "@removed" in entry:
                    removed.append(str(entry["id"]))
                    continue
                listed.add(str(entry["id"]))
                if str(entry["id"]) not in known:
                    items.append(_item(entry))
        link = str(body["@odata.deltaLink"])
        return MailChanges(items, removed, link, cursor is None, frozenset(listed))


def _item(entry: dict[str, Any]) -> MailItem:
    sender = (entry.get("from") or {}).get("emailAddress") or {}
    name, address = str(sender.get("name") or ""), str(sender.get("address") or "")
    return MailItem(
        message_id=str(entry["id"]),
        sender=formataddr((name, address)) if address else name,
        subject=str(entry.get("subject") or ""),
        snippet=str(entry.get("bodyPreview") or ""),
        received_at=entry.get("receivedDateTime"),
        thread_id=entry.get("conversationId"),
    )
