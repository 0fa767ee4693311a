"""Graph mail: send and draft (made idempotent by a derived `internetMessageId`), search.

`sendMail` has no idempotency key and answers no id, so a send is a draft created with
`internetMessageId: message_id(key)` and then sent. An attempt that finds an earlier one begun
looks the message up by that id first: sent already (done), still a draft (send that one), or
absent (create it). Residual risk as with Gmail (docs/decisions/0025). A search is one
`$search` listing of headers and `bodyPreview`, never a body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import message_id
from adapters.integrations.providers.once import Create, create_once
from adapters.integrations.providers.outbox import Outbox
from adapters.integrations.providers.reads import Seal, found_message, reading

MESSAGES = "/v1.0/me/messages"
PROVIDER = "microsoft"
# KQL in `$search="..."`: a quote or backslash in the person's words would end the phrase.
_UNQUOTED = str.maketrans({'"': " ", "\\": " "})


def message_body(parameters: dict[str, Any], mid: str) -> dict[str, Any]:
    return {
        "subject": parameters.get("subject", ""),
        "body": {"contentType": "Text", "content": parameters.get("body", "")},
        "toRecipients": [{"emailAddress": {"address": a}} for a in parameters["to"]],
        "internetMessageId": mid,
    }


class GraphMail:
    def __init__(self, client: ProviderClient, outbox: Outbox, seal: Seal | None = None) -> None:
        self.client = client
        self.outbox = outbox
        self.seal = seal

    def send(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        return self._once(tenant, person, parameters, key, timeout, send=True)

    def draft(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        return self._once(tenant, person, parameters, key, timeout, send=False)

    def _once(
        self,
        tenant: str,
        person: str,
        parameters: dict[str, Any],
        key: str,
        timeout: float,
        *,
        send: bool,
    ) -> dict[str, Any]:
        action = "email.send" if send else "email.draft"

        def post(mid: str) -> dict[str, Any]:
            return dict(
                self.client.request(
                    tenant,
                    person,
                    action,
                    "POST",
                    MESSAGES,
                    json=message_body(parameters, mid),
                    timeout=timeout,
                    accept=(200, 201),
                ).json()
            )

        def finish(message: dict[str, Any], mid: str) -> dict[str, Any]:
            if send and message.get("isDraft", True):
                self.client.request(
                    tenant,
                    person,
                    action,
                    "POST",
                    f"{MESSAGES}/{message['id']}/send",
                    timeout=timeout,
                    accept=(202, 200, 204),
                )
            return {"id": mid if send else str(message["id"]), "message_id": mid}

        how = Create(
            PROVIDER,
            action,
            message_id,
            post,
            lambda mid: self._by_message_id(tenant, person, mid, timeout, action),
            finish,
            look_first=True,
        )
        return create_once(self.outbox, tenant, key, how)

    def _by_message_id(
        self, tenant: str, person: str, mid: str, timeout: float, action: str
    ) -> dict[str, Any] | None:
        found = (
            self.client.request(
                tenant,
                person,
                action,
                "GET",
                MESSAGES,
                params={"$filter": f"internetMessageId eq '{mid}'", "$select": "id,isDraft"},
                timeout=timeout,
                accept=(200,),
            )
            .json()
            .get("value")
            or []
        )
        return found[0] if found and isinstance(found[0], dict) else None

    def search(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        """Messages matching Graph's `$search` (KQL): ids, time, and sender, subject and
        preview sealed for the person."""
        with reading(PROVIDER, "email.search"):
            return self._search(tenant, person, parameters, timeout)

    def _search(
        self, tenant: str, person: str, parameters: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        limit = int(parameters.get("limit", 10))
        words = " ".join(str(parameters["query"]).translate(_UNQUOTED).split())
        answer = self.client.request(
            tenant,
            person,
            "email.search",
            "GET",
            MESSAGES,
            params={
                "$search": f'"{words}"',
                "$top": str(limit + 1),
                "$select": "id,conversationId,receivedDateTime,from,subject,bodyPreview",
            },
            timeout=timeout,
            accept=(200,),
        ).json()
        listed = [m for m in answer.get("value") or [] if isinstance(m, dict) and "id" in m]
        found = []
        for message in listed[:limit]:
            sender = ((message.get("from") or {}).get("emailAddress") or {}).get("address")
            received = message.get("receivedDateTime")
            found.append(
                found_message(
                    self.seal,
                    tenant,
                    person,
                    message_id=str(message["id"]),
                    thread_id=message.get("conversationId"),
                    received_at=datetime.fromisoformat(received) if received else None,
                    sender=sender,
                    subject=message.get("subject"),
                    snippet=message.get("bodyPreview"),
                )
            )
        return {"messages": found, "truncated": len(listed) > limit}
