"""Gmail v1: send and draft (made idempotent by a derived Message-ID), search.

Gmail has no idempotency key. A send goes out with `Message-ID: message_id(key)`; the outbox
records the attempt first. An attempt that finds an earlier one begun (it may have sent before
its process died) searches `rfc822msgid:` first and sends only if nothing is found. Residual
risk (docs/decisions/0025): Gmail's search index may lag a message sent a moment before the
crash, and then the message can go out twice.
"""

from __future__ import annotations

from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import base64url, message_id, mime_message
from adapters.integrations.providers.outbox import Outbox

MESSAGES = "/gmail/v1/users/me/messages"


class Gmail:
    def __init__(self, client: ProviderClient, outbox: Outbox) -> None:
        self.client = client
        self.outbox = outbox

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
        mid = message_id(key)
        entry = self.outbox.begin(tenant, key, "google", action, mid)
        if entry.receipt is not None:
            return entry.receipt
        found: list[dict[str, Any]] = []
        if entry.attempts > 1:
            scope = "in:drafts " if draft else "in:anywhere "
            found = self.search(tenant, person, f"{scope}rfc822msgid:{mid}", 1, timeout, action)
        if found:
            receipt = {"id": str(found[0]["id"]), "message_id": mid}
        else:
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
            receipt = {"id": str(sent.get("id") or answer.get("id")), "message_id": mid}
        self.outbox.done(tenant, key, receipt)
        return receipt

    def search(
        self,
        tenant: str,
        person: str,
        query: str,
        limit: int,
        timeout: float,
        action: str = "email.search",
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
