"""A Microsoft-Graph-shaped API (v1.0 calendar and mail) on a free loopback port, for tests.

Events: create with `transactionId` (a repeat answers the event created first), get, patch,
delete (404 once gone), list filtered by `transactionId`, calendar view, `getSchedule` (the
person's own address from `/me`, others from `other_schedules`, any other with an error), and
`calendarView/delta` with
`@odata.deltaLink` (410 `syncStateNotFound` once delta links are expired). Mail: create a
message (draft) with `internetMessageId`, send it, list filtered by `internetMessageId` or
`$search` (mail received with `receive`). Subscriptions: created only after the subscriber
echoes the `validationToken`, renewed with PATCH; notifications carry `clientState`. Errors
have Graph's body shape; rate limits are 429 (or 503) with `Retry-After`.
"""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.fake_provider_api import Answer, FakeApi, Request

EVENTS = r"/v1.0/me/events"
ADDRESS = "ada@contoso.example"  # the signed-in person's own address (`/me`)
MESSAGES = r"/v1.0/me/messages"
Deliver = Callable[[str, Any], object]
Validate = Callable[[str, str], str | None]


class FakeGraph(FakeApi):
    def __init__(
        self,
        tokens: set[str] | None = None,
        deliver: Deliver | None = None,
        validate: Validate | None = None,
    ) -> None:
        super().__init__(tokens)
        self.events: dict[str, dict[str, Any]] = {}
        self.creates = 0  # events really created
        self.messages: list[dict[str, Any]] = []
        self.sends = 0
        # Other people's schedules getSchedule may read: address -> [(start, end)] ISO pairs.
        self.other_schedules: dict[str, list[tuple[str, str]]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.sent_notifications: list[tuple[str, Any]] = []
        self.deliver: Deliver = deliver or (lambda url, body: self.post_json(url, body, {}))
        self.validate: Validate = validate or _validate_over_http
        self._seq = 0
        self._epoch = 0
        self._ids = itertools.count(1)
        r = self.route
        r("POST", EVENTS, self._create)
        r("GET", EVENTS, self._list)
        r("GET", EVENTS + r"/(?P<id>[^/]+)", self._get)
        r("PATCH", EVENTS + r"/(?P<id>[^/]+)", self._patch)
        r("DELETE", EVENTS + r"/(?P<id>[^/]+)", self._delete)
        r("GET", r"/v1.0/me/calendarView", self._view)
        r("GET", r"/v1.0/me", self._me)
        r("POST", r"/v1.0/me/calendar/getSchedule", self._schedule)
        r("GET", r"/v1.0/me/calendarView/delta", self._delta)
        r("POST", MESSAGES, self._create_message)
        r("GET", MESSAGES, self._list_messages)
        r("POST", MESSAGES + r"/(?P<id>[^/]+)/send", self._send)
        r("POST", r"/v1.0/subscriptions", self._subscribe)
        r("PATCH", r"/v1.0/subscriptions/(?P<id>[^/]+)", self._renew)
        r("DELETE", r"/v1.0/subscriptions/(?P<id>[^/]+)", self._unsubscribe)

    def error(self, status: int, reason: str, message: str = "") -> Answer:
        return Answer(status, {"error": {"code": reason, "message": message}})

    # Test control

    def throttle_next(self, n: int = 1, retry_after: int = 1, status: int = 429) -> None:
        answer = self.error(status, "TooManyRequests", "Too many requests")
        self.fault_next(
            *[Answer(answer.status, answer.body, {"Retry-After": str(retry_after)})] * n
        )

    def expire_delta_links(self) -> None:
        with self.lock:
            self._epoch += 1

    def live_events(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {i: e for i, e in self.events.items() if not e.get("@removed")}

    def add_event(self, subject: str, start: str, end: str) -> str:
        with self.lock:
            event = self._store({"subject": subject, "start": _at(start), "end": _at(end)})
        self.notify("created", event["id"])
        return str(event["id"])

    def change_event(self, event_id: str, **fields: Any) -> None:
        with self.lock:
            self._seq += 1
            self.events[event_id].update(fields, seq=self._seq)
        self.notify("updated", event_id)

    def notify(self, change: str, event_id: str) -> None:
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
                                "resource": f"Users/me/Events/{event_id}",
                                "resourceData": {
                                    "@odata.type": "#Microsoft.Graph.Event",
                                    "id": event_id,
                                },
                                "tenantId": "fake-tenant",
                            }
                        ]
                    },
                )
                for s in self.subscriptions.values()
            ]
        for url, body in out:
            self.sent_notifications.append((url, body))
            self.deliver(url, body)

    def replay_last(self, times: int = 1) -> None:
        url, body = self.sent_notifications[-1]
        for _ in range(times):
            self.deliver(url, body)

    # Events

    def _store(self, event: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        stored = {"id": f"AAMk{next(self._ids):06d}", **event, "seq": self._seq}
        self.events[stored["id"]] = stored
        return stored

    @staticmethod
    def _public(event: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in event.items() if k != "seq"}
        return {**shown, "@odata.etag": f'W/"{event["seq"]}"'}

    def _create(self, request: Request, _: re.Match[str]) -> Answer:
        body = dict(request.body or {})
        tid = body.get("transactionId")
        for event in self.events.values():
            if tid and event.get("transactionId") == tid:
                return Answer(201, self._public(event))  # Graph's dedupe: the first one
        self.creates += 1
        stored = self._store(body)
        threading.Thread(target=self.notify, args=("created", stored["id"]), daemon=True).start()
        return Answer(201, self._public(stored))

    def _list(self, request: Request, _: re.Match[str]) -> Answer:
        found = [e for e in self.events.values() if not e.get("@removed")]
        wanted = re.fullmatch(r"transactionId eq '([^']*)'", request.query.get("$filter", ""))
        if wanted:
            found = [e for e in found if e.get("transactionId") == wanted[1]]
        return Answer(200, {"value": [self._public(e) for e in found]})

    def _get(self, request: Request, m: re.Match[str]) -> Answer:
        event = self.events.get(m["id"])
        if event is None or event.get("@removed"):
            return self.error(404, "ErrorItemNotFound", "The specified object was not found.")
        return Answer(200, self._public(event))

    def _patch(self, request: Request, m: re.Match[str]) -> Answer:
        event = self.events.get(m["id"])
        if event is None or event.get("@removed"):
            return self.error(404, "ErrorItemNotFound", "The specified object was not found.")
        self._seq += 1
        event.update(dict(request.body or {}), seq=self._seq)
        return Answer(200, self._public(event))

    def _delete(self, request: Request, m: re.Match[str]) -> Answer:
        event = self.events.get(m["id"])
        if event is None or event.get("@removed"):
            return self.error(404, "ErrorItemNotFound", "The specified object was not found.")
        self._seq += 1
        event.update({"@removed": {"reason": "deleted"}, "seq": self._seq})
        return Answer(204)

    def _view(self, request: Request, _: re.Match[str]) -> Answer:
        found = [self._public(e) for e in self.events.values() if not e.get("@removed")]
        return Answer(200, {"value": found})

    def _me(self, request: Request, _: re.Match[str]) -> Answer:
        return Answer(200, {"id": "fake-user", "mail": ADDRESS, "userPrincipalName": ADDRESS})

    def _schedule(self, request: Request, _: re.Match[str]) -> Answer:
        body = request.body or {}
        low, high = (_naive(body[k]["dateTime"]) for k in ("startTime", "endTime"))
        own = [
            (e["start"]["dateTime"], e["end"]["dateTime"])
            for e in self.events.values()
            if not e.get("@removed")
        ]
        value = []
        for address in body.get("schedules") or []:
            held = own if address == ADDRESS else self.other_schedules.get(address)
            if held is None:
                error = {"message": "not found", "responseCode": "ErrorMailRecipientNotFound"}
                value.append({"scheduleId": address, "error": error})
                continue
            items = [
                {
                    "status": "busy",
                    "start": {"dateTime": _naive(start).isoformat(), "timeZone": "UTC"},
                    "end": {"dateTime": _naive(end).isoformat(), "timeZone": "UTC"},
                }
                for start, end in held
                if _naive(start) < high and _naive(end) > low
            ]
            value.append({"scheduleId": address, "availabilityView": "", "scheduleItems": items})
        return Answer(200, {"value": value})

    def _delta(self, request: Request, _: re.Match[str]) -> Answer:
        token = request.query.get("$deltatoken")
        if token is None:
            items = [e for e in self.events.values() if not e.get("@removed")]
        else:
            epoch, _sep, seq = token.partition("-")
            if not seq.isdigit() or int(epoch) != self._epoch:
                return self.error(410, "syncStateNotFound", "The sync state is not found.")
            items = [e for e in self.events.values() if e["seq"] > int(seq)]
        value = [
            {"id": e["id"], "@removed": e["@removed"]} if e.get("@removed") else self._public(e)
            for e in items
        ]
        link = f"{self.base_url}/v1.0/me/calendarView/delta?$deltatoken={self._epoch}-{self._seq}"
        return Answer(200, {"value": value, "@odata.deltaLink": link})

    # Mail

    def receive(self, sender: str, subject: str, body: str) -> str:
        """A message that arrived in the person's inbox."""
        with self.lock:
            message = self._keep(subject, f"<{uuid.uuid4()}@elsewhere>", sender, body, False)
        return str(message["id"])

    def _keep(self, subject: str, mid: str, sender: str, body: str, draft: bool) -> dict[str, Any]:
        message = {
            "id": f"AAMkMsg{next(self._ids):06d}",
            "conversationId": f"AAQk{next(self._ids):06d}",
            "isDraft": draft,
            "subject": subject,
            "internetMessageId": mid,
            "from": {"emailAddress": {"address": sender}},
            "bodyPreview": " ".join(body.split())[:255],
            "receivedDateTime": f"2026-11-30T{len(self.messages) % 24:02d}:00:00Z",
        }
        self.messages.append(message)
        return message

    def _create_message(self, request: Request, _: re.Match[str]) -> Answer:
        body = dict(request.body or {})
        message = self._keep(
            body.get("subject", ""),
            body.get("internetMessageId") or f"<{uuid.uuid4()}@fake>",
            ADDRESS,
            (body.get("body") or {}).get("content", ""),
            True,
        )
        return Answer(201, message)

    def _send(self, request: Request, m: re.Match[str]) -> Answer:
        for message in self.messages:
            if message["id"] == m["id"] and message["isDraft"]:
                message["isDraft"] = False
                self.sends += 1
                return Answer(202)
        return self.error(404, "ErrorItemNotFound", "The specified object was not found.")

    def _list_messages(self, request: Request, _: re.Match[str]) -> Answer:
        found = list(self.messages)
        wanted = re.fullmatch(r"internetMessageId eq '([^']*)'", request.query.get("$filter", ""))
        if wanted:
            found = [m for m in found if m["internetMessageId"] == wanted[1]]
        search = request.query.get("$search", "").strip('"').lower()
        if search:
            found = [m for m in found if search in m["subject"].lower()]
        return Answer(200, {"value": found[: int(request.query.get("$top", "100"))]})

    # Subscriptions

    def _subscribe(self, request: Request, _: re.Match[str]) -> Answer:
        body = dict(request.body or {})
        url = body.get("notificationUrl", "")
        challenge = uuid.uuid4().hex
        # Graph asks the subscriber to echo a token before it creates anything.
        if self.validate(url, challenge) != challenge:
            return self.error(400, "InvalidRequest", "Subscription validation request failed.")
        subscription = {"id": str(uuid.uuid4()), **body}
        self.subscriptions[subscription["id"]] = subscription
        return Answer(201, subscription)

    def _renew(self, request: Request, m: re.Match[str]) -> Answer:
        subscription = self.subscriptions.get(m["id"])
        if subscription is None:
            return self.error(404, "ResourceNotFound", "Subscription not found")
        subscription.update(
            expirationDateTime=(request.body or {}).get("expirationDateTime"),
            renewed=subscription.get("renewed", 0) + 1,
        )
        return Answer(200, subscription)

    def _unsubscribe(self, request: Request, m: re.Match[str]) -> Answer:
        self.subscriptions.pop(m["id"], None)
        return Answer(204)


def _naive(iso: str) -> datetime:
    """An instant as Graph writes it in UTC: without an offset."""
    moment = datetime.fromisoformat(iso)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _at(iso: str) -> dict[str, str]:
    moment = datetime.fromisoformat(iso).astimezone(UTC).replace(tzinfo=None)
    return {"dateTime": moment.isoformat(), "timeZone": "UTC"}


def _validate_over_http(url: str, challenge: str) -> str | None:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query["validationToken"] = [challenge]
    answer = httpx.post(url.split("?")[0], params={k: v[-1] for k, v in query.items()}, timeout=10)
    return answer.text if answer.status_code == 200 else None
