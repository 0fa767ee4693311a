"""Graph calendar: create (idempotent by `transactionId`), update, delete, busy times.

Graph returns the event it already created for a repeated `transactionId` instead of creating
another (how long it remembers one is undocumented); a 409 for the id is read back by that
`transactionId` and compared, as with Google.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import graph_transaction_id
from adapters.integrations.providers.outbox import Outbox
from commands.ports.integrations import ErrorKind, IntegrationError

EVENTS = "/v1.0/me/events"


def graph_time(iso: str) -> dict[str, str]:
    moment = datetime.fromisoformat(iso).astimezone(UTC).replace(tzinfo=None)
    return {"dateTime": moment.isoformat(), "timeZone": "UTC"}


def event_body(parameters: dict[str, Any], transaction_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": parameters["title"],
        "start": graph_time(parameters["start"]),
        "end": graph_time(parameters["end"]),
        "attendees": [
            {"emailAddress": {"address": address}, "type": "required"}
            for address in parameters.get("attendees", [])
        ],
        "transactionId": transaction_id,
    }
    if parameters.get("location"):
        body["location"] = {"displayName": parameters["location"]}
    return body


def same_event(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def instant(value: Any) -> datetime | None:
        text = value.get("dateTime") if isinstance(value, dict) else None
        return datetime.fromisoformat(text).replace(tzinfo=None) if isinstance(text, str) else None

    return (
        stored.get("subject") == wanted["subject"]
        and instant(stored.get("start")) == instant(wanted["start"])
        and instant(stored.get("end")) == instant(wanted["end"])
    )


class GraphCalendar:
    def __init__(self, client: ProviderClient, outbox: Outbox) -> None:
        self.client = client
        self.outbox = outbox

    def create_event(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        action = "calendar.create_event"
        transaction_id = graph_transaction_id(key)
        entry = self.outbox.begin(tenant, key, "microsoft", action, transaction_id)
        if entry.receipt is not None:
            return entry.receipt
        body = event_body(parameters, transaction_id)
        answer = self.client.request(
            tenant,
            person,
            action,
            "POST",
            EVENTS,
            json=body,
            timeout=timeout,
            accept=(200, 201, 409),
        )
        if answer.status_code == 409:
            event = self._by_transaction(tenant, person, transaction_id, timeout)
            if event is None or not same_event(event, body):
                raise IntegrationError(
                    ErrorKind.REJECTED,
                    "HTTP 409: another event holds this step's transactionId",
                    provider="microsoft",
                    action=action,
                    status=409,
                )
        else:
            event = answer.json()
        receipt = {"id": str(event["id"]), "transaction_id": transaction_id}
        self.outbox.done(tenant, key, receipt)
        return receipt

    def _by_transaction(
        self, tenant: str, person: str, transaction_id: str, timeout: float
    ) -> dict[str, Any] | None:
        found = (
            self.client.request(
                tenant,
                person,
                "calendar.create_event",
                "GET",
                EVENTS,
                params={"$filter": f"transactionId eq '{transaction_id}'"},
                timeout=timeout,
                accept=(200,),
            )
            .json()
            .get("value")
            or []
        )
        return found[0] if found and isinstance(found[0], dict) else None

    def update_event(
        self, tenant: str, person: str, event_id: str, changes: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        self.client.request(
            tenant,
            person,
            "calendar.update_event",
            "PATCH",
            f"{EVENTS}/{event_id}",
            json=changes,
            timeout=timeout,
            accept=(200,),
        )
        return {"id": event_id}

    def delete_event(
        self, tenant: str, person: str, event_id: str, timeout: float
    ) -> dict[str, Any]:
        self.client.request(
            tenant,
            person,
            "calendar.delete_event",
            "DELETE",
            f"{EVENTS}/{event_id}",
            timeout=timeout,
            accept=(204, 404),
        )
        return {"id": event_id}

    def free_busy(
        self, tenant: str, person: str, start: datetime, end: datetime, timeout: float
    ) -> list[tuple[datetime, datetime]]:
        """Busy intervals from the person's calendar view (events not shown as free)."""
        answer = self.client.request(
            tenant,
            person,
            "calendar.free_busy",
            "GET",
            "/v1.0/me/calendarView",
            params={
                "startDateTime": start.astimezone(UTC).isoformat(),
                "endDateTime": end.astimezone(UTC).isoformat(),
                "$select": "start,end,showAs",
            },
            timeout=timeout,
            accept=(200,),
        ).json()
        busy = []
        for event in answer.get("value") or []:
            if event.get("showAs") == "free":
                continue
            busy.append(
                tuple(
                    datetime.fromisoformat(event[side]["dateTime"]).replace(tzinfo=UTC)
                    for side in ("start", "end")
                )
            )
        return [(b[0], b[1]) for b in busy]
