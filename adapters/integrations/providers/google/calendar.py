"""Google Calendar v3: create (idempotent by a derived event `id`), update, delete, free/busy.

A create sends the event under `google_event_id(key)`. Google refuses a second insert with that
id (409 `duplicate`, even after the event was deleted), so a retry that meets 409 reads the
event back and compares it with what this step asked for, instead of creating another. An
update is a PATCH marked with the step (`extendedProperties.private.cairnStep`), the same body
on every retry; a delete Google answers 410 `deleted` for was deleted before: done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import google_event_id, step_marker
from adapters.integrations.providers.once import Create, create_once, once
from adapters.integrations.providers.outbox import Outbox, OutboxEntry
from adapters.integrations.providers.reads import busy_calendar, reading

EVENTS = "/calendar/v3/calendars/primary/events"
PROVIDER = "google"


def event_body(parameters: dict[str, Any]) -> dict[str, Any]:
    """The fields of a create, or those an update names (None: left as they are)."""
    body: dict[str, Any] = {}
    if parameters.get("title") is not None:
        body["summary"] = parameters["title"]
    for side in ("start", "end"):
        if parameters.get(side) is not None:
            body[side] = {"dateTime": parameters[side]}
    if parameters.get("attendees") is not None:
        body["attendees"] = [{"email": address} for address in parameters["attendees"]]
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
        body = event_body(parameters)

        def call(method: str, path: str, **kwargs: Any) -> Any:
            return self.client.request(
                tenant, person, action, method, path, timeout=timeout, **kwargs
            )

        def post(event_id: str) -> dict[str, Any] | None:
            created = call("POST", EVENTS, json={"id": event_id, **body}, accept=(200, 201, 409))
            return None if created.status_code == 409 else dict(created.json())

        def find(event_id: str) -> dict[str, Any] | None:
            found = call("GET", f"{EVENTS}/{event_id}", accept=(200, 404))
            return dict(found.json()) if found.status_code == 200 else None

        how = Create(
            PROVIDER,
            action,
            google_event_id,
            post,
            find,
            finish=lambda _event, event_id: {"id": event_id, "calendar": "primary"},
            same=lambda stored: same_event(stored, body),
        )
        return create_once(self.outbox, tenant, key, how)

    def update_event(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        """PATCH is idempotent: the same changes twice leave the same event."""
        action = "calendar.update_event"
        event_id = parameters["event_id"]
        body = event_body(parameters)
        body["extendedProperties"] = {"private": {"cairnStep": step_marker(key)}}

        def patch(_entry: OutboxEntry) -> dict[str, Any]:
            self.client.request(
                tenant,
                person,
                action,
                "PATCH",
                f"{EVENTS}/{quote(event_id, safe='')}",
                json=body,
                timeout=timeout,
                accept=(200,),
            )
            return {"id": event_id, "calendar": "primary"}

        return once(self.outbox, tenant, key, PROVIDER, action, event_id, patch)

    def delete_event(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        """Deleted now, or before (Google answers 410 `deleted` for a repeat): done. A 404 is
        an id Google never had, unless an attempt of this step began before (then it was us)."""
        action = "calendar.delete_event"
        event_id = parameters["event_id"]

        def delete(entry: OutboxEntry) -> dict[str, Any]:
            answer = self.client.request(
                tenant,
                person,
                action,
                "DELETE",
                f"{EVENTS}/{quote(event_id, safe='')}",
                timeout=timeout,
                accept=(200, 204, 410) if entry.attempts == 1 else (200, 204, 404, 410),
            )
            gone = answer.status_code in (404, 410)
            return {"id": event_id, "calendar": "primary", "already_gone": gone}

        return once(self.outbox, tenant, key, PROVIDER, action, event_id, delete)

    def free_busy(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        """Busy intervals of the person's primary calendar and of each attendee (`freeBusy`)."""
        with reading(PROVIDER, "calendar.free_busy"):
            return self._free_busy(tenant, person, parameters, timeout)

    def _free_busy(
        self, tenant: str, person: str, parameters: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        attendees = list(parameters.get("attendees") or ())
        answer = self.client.request(
            tenant,
            person,
            "calendar.free_busy",
            "POST",
            "/calendar/v3/freeBusy",
            json={
                "timeMin": parameters["start"],
                "timeMax": parameters["end"],
                "items": [{"id": calendar} for calendar in ("primary", *attendees)],
            },
            timeout=timeout,
            accept=(200,),
        ).json()
        calendars = answer.get("calendars") or {}
        shown = []
        for calendar in ("primary", *attendees):
            held = calendars.get(calendar) or {}
            errors = held.get("errors") or []
            reason = errors[0].get("reason") if errors and isinstance(errors[0], dict) else None
            busy = [
                (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
                for b in held.get("busy") or []
            ]
            error = str(reason or "error") if errors or calendar not in calendars else None
            shown.append(busy_calendar(calendar, busy, error))
        return {"calendars": shown}
