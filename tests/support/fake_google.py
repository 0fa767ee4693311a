"""A Google-Calendar- and Gmail-shaped API on a free loopback port, for tests.

Calendar v3: insert with a client-chosen base32hex `id` (409 `duplicate` on a repeat, even after
deletion), get, patch, delete (410 `deleted` on a repeat), free/busy, list with `syncToken`
(410 `fullSyncRequired` once tokens are expired), push channels (`events/watch`, `channels/stop`)
whose notifications go to the subscriber's address with Google's `X-Goog-*` headers; free/busy
answers other people's calendars from `other_calendars`, any other with `notFound`. Gmail v1:
send, drafts, list with `rfc822msgid:`/`in:drafts`/word queries, get with `format=metadata`
(headers and snippet), mail received with `receive`. Errors have Google's body shape;
rate limits are 403 or 429 with `reason` `rateLimitExceeded`/`userRateLimitExceeded`.
"""

from __future__ import annotations

import base64
import email
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.support.fake_provider_api import Answer, FakeApi, Request

EVENTS = r"/calendar/v3/calendars/primary/events"
ID = re.compile(r"[a-v0-9]{5,1024}")
Deliver = Callable[[str, dict[str, str], Any], object]


@dataclass
class Channel:
    id: str
    resource_id: str
    address: str
    token: str
    expiration_ms: int
    messages: int = 0
    stopped: bool = False


class FakeGoogle(FakeApi):
    def __init__(self, tokens: set[str] | None = None, deliver: Deliver | None = None) -> None:
        super().__init__(tokens)
        self.events: dict[str, dict[str, Any]] = {}
        self.inserts = 0  # events really created
        self.messages: list[dict[str, Any]] = []
        # Other people's calendars free/busy may read: address -> [(start, end)] ISO pairs.
        self.other_calendars: dict[str, list[tuple[str, str]]] = {}
        self.channels: dict[str, Channel] = {}
        self.sent_notifications: list[tuple[str, dict[str, str]]] = []
        self.deliver: Deliver = deliver or (lambda url, h, b: self.post_json(url, b, h))
        self._seq = 0  # the calendar's change counter (sync tokens point into it)
        self._epoch = 0  # bumped to expire every sync token handed out so far
        self._ids = itertools.count(1)
        r = self.route
        r("POST", EVENTS, self._insert)
        r("GET", EVENTS, self._list)
        r("POST", EVENTS + "/watch", self._watch)
        r("GET", EVENTS + r"/(?P<id>[^/]+)", self._get)
        r("PATCH", EVENTS + r"/(?P<id>[^/]+)", self._patch)
        r("DELETE", EVENTS + r"/(?P<id>[^/]+)", self._delete)
        r("POST", r"/calendar/v3/channels/stop", self._stop)
        r("POST", r"/calendar/v3/freeBusy", self._free_busy)
        r("POST", r"/gmail/v1/users/me/messages/send", self._send)
        r("POST", r"/gmail/v1/users/me/drafts", self._draft)
        r("GET", r"/gmail/v1/users/me/messages", self._search)
        r("GET", r"/gmail/v1/users/me/messages/(?P<id>[^/]+)", self._get_message)

    def error(self, status: int, reason: str, message: str = "") -> Answer:
        domain = "usageLimits" if "Limit" in reason else "global"
        return Answer(
            status,
            {
                "error": {
                    "errors": [{"domain": domain, "reason": reason, "message": message}],
                    "code": status,
                    "message": message,
                }
            },
        )

    # Test control

    def rate_limit_next(
        self, n: int = 1, status: int = 403, reason: str = "rateLimitExceeded"
    ) -> None:
        self.fault_next(*[self.error(status, reason, "Rate Limit Exceeded")] * n)

    def expire_sync_tokens(self) -> None:
        with self.lock:
            self._epoch += 1

    def live_events(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {i: e for i, e in self.events.items() if e["status"] != "cancelled"}

    def change_event(self, event_id: str, **fields: Any) -> None:
        """A change made by the person elsewhere (another app): notifies the channels."""
        with self.lock:
            self._seq += 1
            self.events[event_id].update(fields, updated_seq=self._seq)
        self.notify()

    def add_event(
        self, summary: str, start: str, end: str, attendees: tuple[dict[str, Any], ...] = ()
    ) -> str:
        with self.lock:
            event_id = f"ext{next(self._ids):05d}"
            self._store(
                {
                    "id": event_id,
                    "summary": summary,
                    "start": {"dateTime": start},
                    "end": {"dateTime": end},
                    **({"attendees": list(attendees)} if attendees else {}),
                }
            )
        self.notify()
        return event_id

    def notify(self, state: str = "exists") -> None:
        """Send a notification to every live channel (Google's push carries no data)."""
        with self.lock:
            live = [c for c in self.channels.values() if not c.stopped]
            out = []
            for channel in live:
                channel.messages += 1
                out.append((channel.address, self._headers(channel, state)))
        for address, headers in out:
            self._send_notification(address, headers)

    def replay_last(self, times: int = 1) -> None:
        address, headers = self.sent_notifications[-1]
        for _ in range(times):
            self._send_notification(address, dict(headers))

    def _send_notification(self, address: str, headers: dict[str, str]) -> None:
        self.sent_notifications.append((address, headers))
        self.deliver(address, headers, None)

    @staticmethod
    def _headers(channel: Channel, state: str) -> dict[str, str]:
        return {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Token": channel.token,
            "X-Goog-Channel-Expiration": str(channel.expiration_ms),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": "https://fake/calendar/v3/calendars/primary/events",
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel.messages),
        }

    # Calendar

    def _store(self, event: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        stored = {
            "status": "confirmed",
            "kind": "calendar#event",
            **event,
            "updated_seq": self._seq,
        }
        self.events[stored["id"]] = stored
        return stored

    @staticmethod
    def _public(event: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in event.items() if k != "updated_seq"}
        return {**shown, "etag": f'"{event["updated_seq"]}"'}

    def _insert(self, request: Request, _: re.Match[str]) -> Answer:
        body = dict(request.body or {})
        event_id = body.get("id") or f"gen{next(self._ids):05d}"
        if not ID.fullmatch(event_id):
            return self.error(400, "invalid", "Invalid resource id value.")
        if event_id in self.events:
            return self.error(409, "duplicate", "The requested identifier already exists.")
        self.inserts += 1
        stored = self._store({**body, "id": event_id})
        threading.Thread(target=self.notify, daemon=True).start()
        return Answer(200, self._public(stored))

    def _get(self, request: Request, m: re.Match[str]) -> Answer:
        event = self.events.get(m["id"])
        if event is None:
            return self.error(404, "notFound", "Not Found")
        return Answer(200, self._public(event))

    def _patch(self, request: Request, m: re.Match[str]) -> Answer:
        event = self.events.get(m["id"])
        if event is None or event["status"] == "cancelled":
            return self.error(404, "notFound", "Not Found")
        self._seq += 1
        event.update(dict(request.body or {}), updated_seq=self._seq)
        return Answer(200, self._public(event))

    def _delete(self, request: Request, m: re.Match[str]) -> Answer:
        event = self.events.get(m["id"])
        if event is None:
            return self.error(404, "notFound", "Not Found")
        if event["status"] == "cancelled":
            return self.error(410, "deleted", "Resource has been deleted")
        self._seq += 1
        event.update(status="cancelled", updated_seq=self._seq)
        return Answer(204)

    def _list(self, request: Request, _: re.Match[str]) -> Answer:
        token = request.query.get("syncToken")
        if token is None:
            items = [e for e in self.events.values() if e["status"] != "cancelled"]
        else:
            epoch, _sep, seq = token.removeprefix("st").partition("-")
            if not seq.isdigit() or int(epoch) != self._epoch:
                return self.error(410, "fullSyncRequired", "Sync token is no longer valid.")
            items = [e for e in self.events.values() if e["updated_seq"] > int(seq)]
        return Answer(
            200,
            {
                "kind": "calendar#events",
                "items": [self._public(e) for e in items],
                "nextSyncToken": f"st{self._epoch}-{self._seq}",
            },
        )

    def _watch(self, request: Request, _: re.Match[str]) -> Answer:
        body = request.body or {}
        if body.get("type") != "web_hook" or not body.get("address") or not body.get("id"):
            return self.error(400, "invalid", "Invalid channel")
        if body["id"] in self.channels:
            return self.error(400, "channelIdNotUnique", "Channel id not unique")
        channel = Channel(
            body["id"],
            f"res{next(self._ids):05d}",
            body["address"],
            body.get("token", ""),
            int(body.get("expiration") or 0),
        )
        self.channels[channel.id] = channel
        channel.messages += 1
        sync = (channel.address, self._headers(channel, "sync"))
        threading.Thread(target=lambda: self._send_notification(*sync), daemon=True).start()
        return Answer(
            200,
            {
                "kind": "api#channel",
                "id": channel.id,
                "resourceId": channel.resource_id,
                "resourceUri": "https://fake/calendar/v3/calendars/primary/events",
                "expiration": str(channel.expiration_ms),
            },
        )

    def _stop(self, request: Request, _: re.Match[str]) -> Answer:
        body = request.body or {}
        channel = self.channels.get(body.get("id", ""))
        if channel is None or channel.resource_id != body.get("resourceId"):
            return self.error(404, "notFound", "Channel not found")
        channel.stopped = True
        return Answer(204)

    def _free_busy(self, request: Request, _: re.Match[str]) -> Answer:
        body = request.body or {}
        low, high = (datetime.fromisoformat(body[k]) for k in ("timeMin", "timeMax"))
        own = [
            (e["start"]["dateTime"], e["end"]["dateTime"])
            for e in self.events.values()
            if e["status"] != "cancelled"
        ]
        calendars: dict[str, Any] = {}
        for item in body.get("items") or []:
            wanted = item.get("id")
            held = own if wanted == "primary" else self.other_calendars.get(wanted)
            if held is None:
                calendars[wanted] = {"errors": [{"domain": "global", "reason": "notFound"}]}
                continue
            busy = []
            for start_text, end_text in held:
                start, end = datetime.fromisoformat(start_text), datetime.fromisoformat(end_text)
                if start < high and end > low:
                    busy.append({"start": start.isoformat(), "end": end.isoformat()})
            calendars[wanted] = {"busy": busy}
        return Answer(200, {"kind": "calendar#freeBusy", "calendars": calendars})

    # Gmail

    def receive(self, sender: str, subject: str, body: str) -> str:
        """A message that arrived in the person's inbox."""
        with self.lock:
            return str(
                self._keep("INBOX", f"<{next(self._ids)}@elsewhere>", subject, "", sender, body)[
                    "id"
                ]
            )

    def _keep(
        self, label: str, mid: str, subject: str, to: str, sender: str, body: str
    ) -> dict[str, Any]:
        message = {
            "id": f"m{next(self._ids):05d}",
            "threadId": f"t{next(self._ids):05d}",
            "labelIds": [label],
            "message_id": mid,
            "subject": subject,
            "to": to,
            "from": sender,
            "snippet": " ".join(body.split())[:200],
            "internalDate": str(1_764_000_000_000 + len(self.messages) * 60_000),
        }
        self.messages.append(message)
        return message

    def _message(self, raw: str, label: str) -> dict[str, Any]:
        parsed = email.message_from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        text = parsed.get_payload(decode=True)
        body = text.decode() if isinstance(text, bytes) else ""
        return self._keep(
            label,
            parsed["Message-ID"],
            parsed["Subject"] or "",
            parsed["To"] or "",
            "ada@example.com",
            body,
        )

    def _get_message(self, request: Request, m: re.Match[str]) -> Answer:
        found = [message for message in self.messages if message["id"] == m["id"]]
        if not found:
            return self.error(404, "notFound", "Requested entity was not found.")
        message = found[0]
        headers = [
            {"name": "From", "value": message["from"]},
            {"name": "Subject", "value": message["subject"]},
            {"name": "Message-ID", "value": message["message_id"]},
        ]
        shown = {k: message[k] for k in ("id", "threadId", "labelIds", "snippet", "internalDate")}
        if request.query.get("format") == "metadata":
            return Answer(200, {**shown, "payload": {"headers": headers}})
        return self.error(400, "invalidArgument", "only format=metadata is served here")

    def _send(self, request: Request, _: re.Match[str]) -> Answer:
        raw = (request.body or {}).get("raw")
        if not isinstance(raw, str):
            return self.error(400, "invalidArgument", "'raw' RFC822 payload message string")
        m = self._message(raw, "SENT")
        return Answer(200, {"id": m["id"], "threadId": m["threadId"], "labelIds": m["labelIds"]})

    def _draft(self, request: Request, _: re.Match[str]) -> Answer:
        raw = ((request.body or {}).get("message") or {}).get("raw")
        if not isinstance(raw, str):
            return self.error(400, "invalidArgument", "'raw' RFC822 payload message string")
        m = self._message(raw, "DRAFT")
        return Answer(
            200, {"id": f"r{m['id']}", "message": {"id": m["id"], "threadId": m["threadId"]}}
        )

    def _search(self, request: Request, _: re.Match[str]) -> Answer:
        found = self.messages
        for term in request.query.get("q", "").split():
            if term.startswith("rfc822msgid:"):
                wanted = term.removeprefix("rfc822msgid:")
                found = [m for m in found if m["message_id"] == wanted]
            elif term == "in:drafts":
                found = [m for m in found if "DRAFT" in m["labelIds"]]
            elif term != "in:anywhere":
                found = [m for m in found if term.lower() in m["subject"].lower()]
        limit = int(request.query.get("maxResults", "100"))
        listed = [{"id": m["id"], "threadId": m["threadId"]} for m in reversed(found)][:limit]
        return Answer(200, {"messages": listed, "resultSizeEstimate": len(listed)})
