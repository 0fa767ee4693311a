"""Google Calendar v3: create (idempotent by a derived event `id`), update, delete, free/busy.

A create sends the event under `google_event_id(key)`. Google refuses a second insert with that
id (409 `duplicate`, even after the event was deleted), so a retry that meets 409 reads the
event back and compares it with what this step asked for, instead of creating another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import google_event_id
from adapters.integrations.providers.outbox import Outbox
from commands.ports.integrations import ErrorKind, IntegrationError

EVENTS = "/calendar/v3/calendars/primary/events"


def event_body(parameters: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": parameters["title"],
        "start": {"dateTime": parameters["start"]},
        "end": {"dateTime": parameters["end"]},
        "attendees": [{"email": address} for address in parameters.get("attendees", [])],
    }
    if parameters.get("location"):
        body["location"] = parameters["location"]
    return body


def same_event(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether the event Google holds under the derived id is the one this step creates."""

    def instant(value: Any) -> datetime | None:
        text = value.get("dateTime") if isinstance(value, dict) else None
        return datetime.fromisoformat(text) if isinstance(text, str) else None

    return (
        stored.get("summary") == wanted["summary"]
        and instant(stored.get("start")) == instant(wanted["start"])
        and instant(stored.get("end")) == instant(wanted["end"])
    )


class GoogleCalendar:
    def __init__(self, client: ProviderClient, outbox: Outbox) -> None:
        self.client = client
        self.outbox = outbox

    def create_event(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        action = "calendar.create_event"
        event_id = google_event_id(key)
        entry = self.outbox.begin(tenant, key, "google", action, event_id)
        if entry.receipt is not None:
            return entry.receipt
        body = {"id": event_id, **event_body(parameters)}
        created = self.client.request(
            tenant,
            person,
            action,
            "POST",
            EVENTS,
            json=body,
            timeout=timeout,
            accept=(200, 201, 409),
        )
        if created.status_code == 409:
            stored = self.client.request(
                tenant,
                person,
                action,
                "GET",
                f"{EVENTS}/{event_id}",
                timeout=timeout,
                accept=(200,),
            ).json()
            if not same_event(stored, body):
                raise IntegrationError(
                    ErrorKind.REJECTED,
                    "HTTP 409 (duplicate): another event holds this step's id",
                    provider="google",
                    action=action,
                    status=409,
                )
        receipt = {"id": event_id, "calendar": "primary"}
        self.outbox.done(tenant, key, receipt)
        return receipt

    def update_event(
        self, tenant: str, person: str, event_id: str, changes: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """PATCH is idempotent: sending the same changes twice leaves the same event."""
        answer = self.client.request(
            tenant,
            person,
            "calendar.update_event",
            "PATCH",
            f"{EVENTS}/{event_id}",
            json=changes,
            timeout=timeout,
            accept=(200,),
        )
        return {"id": str(answer.json().get("id", event_id))}

    def delete_event(
        self, tenant: str, person: str, event_id: str, timeout: float
    ) -> dict[str, Any]:
        """Deleted now or before (Google answers 410 `deleted` for a repeat): the same outcome."""
        self.client.request(
            tenant,
            person,
            "calendar.delete_event",
            "DELETE",
            f"{EVENTS}/{event_id}",
            timeout=timeout,
            accept=(204, 200, 404, 410),
        )
        return {"id": event_id}

    def free_busy(
        self, tenant: str, person: str, start: datetime, end: datetime, timeout: float
    ) -> list[tuple[datetime, datetime]]:
        """The person's busy intervals in their primary calendar (for the planner)."""
        answer = self.client.request(
            tenant,
            person,
            "calendar.free_busy",
            "POST",
            "/calendar/v3/freeBusy",
            json={
                "timeMin": start.isoformat(),
                "timeMax": end.isoformat(),
                "items": [{"id": "primary"}],
            },
            timeout=timeout,
            accept=(200,),
        ).json()
        busy = answer.get("calendars", {}).get("primary", {}).get("busy", [])
        return [
            (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])) for b in busy
        ]
