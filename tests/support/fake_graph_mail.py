"""The Graph inbox on the fake Graph API (fake_graph.py), for the mail sync tests.

Messages arriving in the Inbox, `mailFolders/inbox/messages/delta` with `@odata.nextLink` pages
and an `@odata.deltaLink` (410 `syncStateNotFound` once delta links are expired), `@removed`
entries for deleted messages, and change notifications to the subscriptions on the inbox.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from tests.support.fake_graph import FakeGraph
from tests.support.fake_provider_api import Answer, Request

INBOX_DELTA = r"/v1.0/me/mailFolders/inbox/messages/delta"


class FakeGraphMail(FakeGraph):
    def __init__(self, tokens: set[str] | None = None, page_size: int = 2) -> None:
        super().__init__(tokens)
        self.inbox: dict[str, dict[str, Any]] = {}
        self.page_size = page_size  # small: a full sync follows nextLink pages
        self._mail_seq = 0
        self._mail_epoch = 0
        self._mail_ids = itertools.count(1)
        self.route("GET", INBOX_DELTA, self._inbox_delta)

    # Test control

    def arrive(self, name: str, address: str, subject: str, preview: str) -> str:
        with self.lock:
            self._mail_seq += 1
            message_id = f"AAMkInbox{next(self._mail_ids):06d}"
            self.inbox[message_id] = {
                "id": message_id,
                "subject": subject,
                "bodyPreview": preview,
                "body": {"contentType": "text", "content": f"{preview} (and the whole body)"},
                "from": {"emailAddress": {"name": name, "address": address}},
                "receivedDateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "conversationId": f"conv-{message_id}",
                "seq": self._mail_seq,
            }
        self.notify_inbox("created", message_id)
        return message_id

    def delete(self, message_id: str) -> None:
        with self.lock:
            self._mail_seq += 1
            self.inbox[message_id].update({"@removed": {"reason": "deleted"}}, seq=self._mail_seq)
        self.notify_inbox("deleted", message_id)

    def expire_mail_delta_links(self) -> None:
        with self.lock:
            self._mail_epoch += 1

    def notify_inbox(self, change: str, message_id: str) -> None:
        with self.lock:
            out = [
                (
                    s["notificationUrl"],
                    {
                        "value": [
                            {
                                "subscriptionId": s["id"],
                                "subscriptionExpirationDateTime": s["expirationDateTime"],
                                "clientState": s.get("clientState"),
                                "changeType": change,
                                "resource": f"Users/me/Messages/{message_id}",
                                "resourceData": {
                                    "@odata.type": "#Microsoft.Graph.Message",
                                    "id": message_id,
                                },
                                "tenantId": "fake-tenant",
                            }
                        ]
                    },
                )
                for s in self.subscriptions.values()
                if "mailFolders" in str(s.get("resource"))
            ]
        for url, body in out:
            self.sent_notifications.append((url, body))
            self.deliver(url, body)

    # Serving

    def _inbox_delta(self, request: Request, _: re.Match[str]) -> Answer:
        token = request.query.get("$deltatoken")
        skip = int(request.query.get("$skiptoken") or 0)
        if token is None:
            items = [m for m in self.inbox.values() if not m.get("@removed")]
            since = ""
        else:
            epoch, _sep, seq = token.partition("-")
            if not seq.isdigit() or int(epoch) != self._mail_epoch:
                return self.error(410, "syncStateNotFound", "The sync state is not found.")
            items = [m for m in self.inbox.values() if m["seq"] > int(seq)]
            since = token
        page = items[skip:][: self.page_size]
        selected = request.query.get("$select", "")
        select = set(selected.split(",")) | {"id"}
        value = [
            {"id": m["id"], "@removed": m["@removed"]}
            if m.get("@removed")
            else {k: v for k, v in m.items() if k in select}
            for m in page
        ]
        # Graph keeps the query's state (the $select) in its links.
        base = f"{self.base_url}/v1.0/me/mailFolders/inbox/messages/delta?$select={selected}"
        if skip + self.page_size < len(items):
            since_part = f"&$deltatoken={since}" if token is not None else ""
            link = f"{base}{since_part}&$skiptoken={skip + self.page_size}"
            return Answer(200, {"value": value, "@odata.nextLink": link})
        delta = f"{base}&$deltatoken={self._mail_epoch}-{self._mail_seq}"
        return Answer(200, {"value": value, "@odata.deltaLink": delta})
