"""Gmail's inbox side on the fake Google API (fake_google.py), for the mail sync tests.

`users.getProfile`, `users.watch`/`stop`, `users.history.list` (404 once history ids are
expired, as Gmail answers a `startHistoryId` it no longer keeps), `messages.list` by label with
pages, `messages.get` in `format=metadata`; and Cloud Pub/Sub's push: an envelope whose
`message.data` is `{emailAddress, historyId}`, posted with an OIDC token RS256-signed by a key
this fake publishes at `/oauth2/v3/certs` (Google's JWKS path, served without a bearer token).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.fake_google import FakeGoogle
from tests.support.fake_provider_api import Answer, Request

ME = r"/gmail/v1/users/me"
CERTS = "/oauth2/v3/certs"
ISSUER = "https://accounts.google.com"
PUSH_ACCOUNT = "gmail-push@cairn-test.iam.gserviceaccount.com"
Push = Callable[[str, dict[str, str], Any], object]


class FakeGoogleMail(FakeGoogle):
    def __init__(self, tokens: set[str] | None = None, mailbox: str = "ada@example.org") -> None:
        super().__init__(tokens)
        self.mailbox = mailbox
        self.inbox: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[int, str, str]] = []  # (history id, kind, message id)
        self.history_id = 1000
        self.history_floor = 0  # a startHistoryId below it answers 404
        self.watches: list[dict[str, Any]] = []
        self.signing_key = RSAKey.generate_key(2048, parameters={"kid": "fake-google-1"})
        self.push_url = ""
        self.push_audience = ""
        self.pushes: list[tuple[str, dict[str, str], Any]] = []
        self.deliver_push: Push = lambda url, h, body: self.post_json(url, body, h)
        self._mail_ids = itertools.count(1)
        self._push_ids = itertools.count(5000)
        first = self._routes.insert  # before the parent's Gmail routes: these shapes win
        for method, pattern, fn in (
            ("GET", ME + "/profile", self._profile),
            ("POST", ME + "/watch", self._watch_mail),
            ("POST", ME + "/stop", self._stop_mail),
            ("GET", ME + "/history", self._history),
            ("GET", ME + r"/messages/(?P<id>[^/]+)", self._get_message),
        ):
            first(0, (method, re.compile(pattern + "$"), fn))

    # Test control

    def receive(self, sender: str, subject: str, snippet: str, *, push: bool = True) -> str:
        """A message arrives in the inbox (and Gmail publishes a push)."""
        with self.lock:
            message_id = f"18c{next(self._mail_ids):05d}"
            self.history_id += 1
            self.inbox[message_id] = {
                "id": message_id,
                "threadId": f"th{message_id}",
                "labelIds": ["INBOX", "UNREAD"],
                "snippet": snippet,
                "internalDate": str(int(time.time() * 1000)),
                "historyId": str(self.history_id),
                "headers": {"From": sender, "Subject": subject},
            }
            self.history.append((self.history_id, "messagesAdded", message_id))
        if push:
            self.push()
        return message_id

    def delete(self, message_id: str, *, push: bool = True) -> None:
        with self.lock:
            self.history_id += 1
            del self.inbox[message_id]
            self.history.append((self.history_id, "messagesDeleted", message_id))
        if push:
            self.push()

    def expire_history(self) -> None:
        """Gmail keeps history for a limited time: every id handed out so far is too old."""
        with self.lock:
            self.history_floor = self.history_id + 1

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims Pub/Sub's OIDC token carries, with `overrides`."""
        now = int(time.time())
        return {
            "iss": ISSUER,
            "aud": self.push_audience,
            "email": PUSH_ACCOUNT,
            "email_verified": True,
            "sub": "109876543210987654321",
            "iat": now,
            "exp": now + 3600,
            **overrides,
        }

    def sign(self, key: RSAKey | None = None, kid: str | None = None, **claims: Any) -> str:
        key = key or self.signing_key
        header = {"alg": "RS256", "kid": kid or key.kid}
        return jwt.encode(header, self.claims(**claims), key)

    def envelope(self, history_id: int | None = None, message_id: str | None = None) -> Any:
        data = {"emailAddress": self.mailbox, "historyId": history_id or self.history_id}
        encoded = base64.b64encode(json.dumps(data).encode()).decode()
        mid = message_id or str(next(self._push_ids))
        return {
            "message": {"data": encoded, "messageId": mid, "publishTime": "2026-12-06T09:00:00Z"},
            "subscription": "projects/cairn-test/subscriptions/gmail-push",
        }

    def push(self, body: Any = None, token: str | None = None) -> object:
        """What Pub/Sub posts to the push endpoint when Gmail publishes a change."""
        if not self.push_url or not self.watches:
            return None
        headers = {"Authorization": f"Bearer {token or self.sign()}"}
        sent = (self.push_url, headers, body if body is not None else self.envelope())
        self.pushes.append(sent)
        return self.deliver_push(*sent)

    def replay_last_push(self, times: int = 1) -> list[object]:
        return [self.deliver_push(*self.pushes[-1]) for _ in range(times)]

    # Serving

    def serve(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        if method == "GET" and target.split("?")[0] == CERTS:  # public, like Google's
            return Answer(200, {"keys": [self.signing_key.as_dict(private=False)]})
        return super().serve(method, target, headers, raw)

    def _profile(self, request: Request, _: re.Match[str]) -> Answer:
        return Answer(
            200,
            {
                "emailAddress": self.mailbox,
                "messagesTotal": len(self.inbox),
                "historyId": str(self.history_id),
            },
        )

    def _watch_mail(self, request: Request, _: re.Match[str]) -> Answer:
        body = request.body or {}
        if not str(body.get("topicName", "")).startswith("projects/"):
            return self.error(400, "invalidArgument", "Invalid topicName")
        self.watches.append(body)
        expiration = int((time.time() + 7 * 86400) * 1000)
        return Answer(200, {"historyId": str(self.history_id), "expiration": str(expiration)})

    def _stop_mail(self, request: Request, _: re.Match[str]) -> Answer:
        self.watches.clear()
        return Answer(204)

    def _history(self, request: Request, _: re.Match[str]) -> Answer:
        start = request.query.get("startHistoryId", "")
        if not start.isdigit() or int(start) < self.history_floor:
            return self.error(404, "notFound", "Requested entity was not found.")
        records = []
        for history_id, kind, message_id in self.history:
            if history_id > int(start):
                message = {"id": message_id, "threadId": f"th{message_id}"}
                records.append({"id": str(history_id), kind: [{"message": message}]})
        return Answer(200, {"history": records, "historyId": str(self.history_id)})

    def _search(self, request: Request, m: re.Match[str]) -> Answer:
        if request.query.get("labelIds") != "INBOX":
            return super()._search(request, m)
        ids = sorted(self.inbox, reverse=True)
        size = int(request.query.get("maxResults", "100"))
        offset = int(request.query.get("pageToken") or 0)
        page = [{"id": i, "threadId": self.inbox[i]["threadId"]} for i in ids][offset:][:size]
        body: dict[str, Any] = {"messages": page, "resultSizeEstimate": len(ids)}
        if offset + size < len(ids):
            body["nextPageToken"] = str(offset + size)
        return Answer(200, body)

    def _get_message(self, request: Request, m: re.Match[str]) -> Answer:
        message = self.inbox.get(m["id"])
        if message is None:
            return self.error(404, "notFound", "Requested entity was not found.")
        shown = {k: v for k, v in message.items() if k != "headers"}
        headers = [{"name": k, "value": v} for k, v in message["headers"].items()]
        # format=metadata: headers and snippet, never the body.
        return Answer(200, {**shown, "payload": {"mimeType": "text/plain", "headers": headers}})
