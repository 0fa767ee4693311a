"""Gmail v1: send and draft (made idempotent by a derived Message-ID), search.

Gmail has no idempotency key. A send goes out with `Message-ID: message_id(key)`; the outbox
records the attempt first. An attempt that finds an earlier one begun (it may have sent before
its process died) searches `rfc822msgid:` first and sends only if nothing is found. Residual
risk (docs/decisions/0025): Gmail's search index may lag a message sent a moment before the
crash, and then the message can go out twice. A search lists message ids (`messages.list` with
`q`), then reads each one's headers and snippet (`format=metadata`): only those, never a body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import base64url, message_id, mime_message
from adapters.integrations.providers.once import Create, create_once
from adapters.integrations.providers.outbox import Outbox
from adapters.integrations.providers.reads import Seal, found_message, reading

MESSAGES = "/gmail/v1/users/me/messages"
PROVIDER = "google"


class Gmail:
    def __init__(self, client: ProviderClient, outbox: Outbox, seal: Seal | None = None) -> None:
        self.client = client
        self.outbox = outbox
        self.seal = seal

    def send(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        return self._once(tenant, person, parameters, key, timeout, draft=False)

    def draft(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        return self._once(tenant, person, parameters, key, timeout, draft=True)

    def _once(
        self,
        tenant: str,
        person: str,
        parameters: dict[str, Any],
        key: str,
        timeout: float,
        *,
        draft: bool,
    ) -> dict[str, Any]:
        action = "email.draft" if draft else "email.send"

        def find(mid: str) -> dict[str, Any] | None:
            scope = "in:drafts " if draft else "in:anywhere "
            found = self._ids(tenant, person, f"{scope}rfc822msgid:{mid}", 1, timeout, action)
            return found[0] if found else None

        def post(mid: str) -> dict[str, Any]:
            raw = {"raw": base64url(mime_message(parameters, mid))}
            path, body = (
                ("/gmail/v1/users/me/drafts", {"message": raw})
                if draft
                else (f"{MESSAGES}/send", raw)
            )
            answer = self.client.request(
                tenant, person, action, "POST", path, json=body, timeout=timeout, accept=(200,)
            ).json()
            sent = answer.get("message", answer) if draft else answer
            return {"id": sent.get("id") or answer.get("id")}

        how = Create(
            PROVIDER,
            action,
            message_id,
            post,
            find,
            finish=lambda message, mid: {"id": str(message["id"]), "message_id": mid},
            look_first=True,
        )
        return create_once(self.outbox, tenant, key, how)

    def search(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        """The newest messages matching Gmail's search syntax: ids, time, and sender, subject
        and snippet sealed for the person."""
        with reading(PROVIDER, "email.search"):
            return self._search(tenant, person, parameters, timeout)

    def _search(
        self, tenant: str, person: str, parameters: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        limit = int(parameters.get("limit", 10))
        action = "email.search"
        listed = self._ids(tenant, person, parameters["query"], limit + 1, timeout, action)
        found = []
        for listing in listed[:limit]:
            message = self.client.request(
                tenant,
                person,
                action,
                "GET",
                f"{MESSAGES}/{quote(str(listing['id']), safe='')}",
                params=[
                    ("format", "metadata"),
                    ("metadataHeaders", "From"),
                    ("metadataHeaders", "Subject"),
                ],
                timeout=timeout,
                accept=(200,),
            ).json()
            headers = {
                str(h.get("name", "")).lower(): str(h.get("value", ""))
                for h in (message.get("payload") or {}).get("headers") or []
                if isinstance(h, dict)
            }
            internal = message.get("internalDate")
            received = (
                datetime.fromtimestamp(int(internal) / 1000, UTC)
                if str(internal or "").isdigit()
                else None
            )
            found.append(
                found_message(
                    self.seal,
                    tenant,
                    person,
                    message_id=str(listing["id"]),
                    thread_id=listing.get("threadId"),
                    received_at=received,
                    sender=headers.get("from"),
                    subject=headers.get("subject"),
                    snippet=message.get("snippet"),
                )
            )
        return {"messages": found, "truncated": len(listed) > limit}

    def _ids(
        self, tenant: str, person: str, query: str, limit: int, timeout: float, action: str
    ) -> list[dict[str, Any]]:
        """Message ids (and thread ids) matching Gmail's search syntax, newest first."""
        answer = self.client.request(
            tenant,
            person,
            action,
            "GET",
            MESSAGES,
            params={"q": query, "maxResults": str(limit)},
            timeout=timeout,
            accept=(200,),
        ).json()
        messages = answer.get("messages") or []
        return [m for m in messages if isinstance(m, dict) and "id" in m]
