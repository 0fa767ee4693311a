"""Graph mail: send and draft (made idempotent by a derived `internetMessageId`), search.

`sendMail` has no idempotency key and answers no id, so a send is a draft created with
`internetMessageId: message_id(key)` and then sent. An attempt that finds an earlier one begun
looks the message up by that id first: sent already (done), still a draft (send that one), or
absent (create it). Residual risk as with Gmail (docs/decisions/0025).
"""

from __future__ import annotations

from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import message_id
from adapters.integrations.providers.outbox import Outbox

MESSAGES = "/v1.0/me/messages"


def message_body(parameters: dict[str, Any], mid: str) -> dict[str, Any]:
    return {
        "subject": parameters.get("subject", ""),
        "body": {"contentType": "Text", "content": parameters.get("body", "")},
        "toRecipients": [{"emailAddress": {"address": a}} for a in parameters["to"]],
        "internetMessageId": mid,
    }


class GraphMail:
    def __init__(self, client: ProviderClient, outbox: Outbox) -> None:
        self.client = client
        self.outbox = outbox

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
        mid = message_id(key)
        entry = self.outbox.begin(tenant, key, "microsoft", action, mid)
        if entry.receipt is not None:
            return entry.receipt
        found = (
            self._by_message_id(tenant, person, mid, timeout, action)
            if entry.attempts > 1
            else None
        )
        if found is None:
            found = self.client.request(
                tenant,
                person,
                action,
                "POST",
                MESSAGES,
                json=message_body(parameters, mid),
                timeout=timeout,
                accept=(200, 201),
            ).json()
        if send and found.get("isDraft", True):
            self.client.request(
                tenant,
                person,
                action,
                "POST",
                f"{MESSAGES}/{found['id']}/send",
                timeout=timeout,
                accept=(202, 200, 204),
            )
        receipt = {"id": mid if send else str(found["id"]), "message_id": mid}
        self.outbox.done(tenant, key, receipt)
        return receipt

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
        self, tenant: str, person: str, query: str, limit: int, timeout: float
    ) -> list[dict[str, Any]]:
        """Messages matching Graph's `$search` (KQL), as `{id, subject}` items."""
        answer = self.client.request(
            tenant,
            person,
            "email.search",
            "GET",
            MESSAGES,
            params={"$search": f'"{query}"', "$top": str(limit), "$select": "id,subject"},
            timeout=timeout,
            accept=(200,),
        ).json()
        return [m for m in answer.get("value") or [] if isinstance(m, dict) and "id" in m]
