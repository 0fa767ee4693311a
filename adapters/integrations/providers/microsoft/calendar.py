"""Graph calendar: create (idempotent by `transactionId`), update, delete, free/busy.

Graph returns the event it already created for a repeated `transactionId` instead of creating
another (how long it remembers one is undocumented); a 409 for the id is read back by that
`transactionId` and compared, as with Google. An update is a PATCH marked with the step (a
private single-value extended property), the same body on every retry. Graph answers 404 for
an event deleted before as for one it never had, so a delete's 404 is done. Free/busy is
`getSchedule` for the person's own address (from `/me`) and the attendees'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.ids import graph_transaction_id, step_marker
from adapters.integrations.providers.once import Create, create_once, once
from adapters.integrations.providers.outbox import Outbox, OutboxEntry
from adapters.integrations.providers.reads import busy_calendar, instant, reading

EVENTS = "/v1.0/me/events"
PROVIDER = "microsoft"
# Cairn's own extended property (a GUID of its own namespace, a name): which step changed it.
STEP_PROPERTY = "String {5b0c7a52-3f0e-4f43-9a0f-7f3c1f6f2a16} Name cairnStep"


def graph_time(iso: str) -> dict[str, str]:
    moment = datetime.fromisoformat(iso).astimezone(UTC).replace(tzinfo=None)
    return {"dateTime": moment.isoformat(), "timeZone": "UTC"}


def event_body(parameters: dict[str, Any]) -> dict[str, Any]:
    """The fields of a create, or those an update names (None: left as they are)."""
    body: dict[str, Any] = {}
    if parameters.get("title") is not None:
        body["subject"] = parameters["title"]
    for side in ("start", "end"):
        if parameters.get(side) is not None:
            body[side] = graph_time(parameters[side])
    if parameters.get("attendees") is not None:
        body["attendees"] = [
            {"emailAddress": {"address": address}, "type": "required"}
            for address in parameters["attendees"]
        ]
    if parameters.get("location"):
        body["location"] = {"displayName": parameters["location"]}
    return body


def same_event(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def at(value: Any) -> datetime | None:
        text = value.get("dateTime") if isinstance(value, dict) else None
        return datetime.fromisoformat(text).replace(tzinfo=None) if isinstance(text, str) else None

    return (
        stored.get("subject") == wanted["subject"]
        and at(stored.get("start")) == at(wanted["start"])
        and at(stored.get("end")) == at(wanted["end"])
    )


class GraphCalendar:
    def __init__(self, client: ProviderClient, outbox: Outbox) -> None:
        self.client = client
        self.outbox = outbox

    def create_event(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        action = "calendar.create_event"
        body = event_body(parameters)

        def post(transaction_id: str) -> dict[str, Any] | None:
            answer = self.client.request(
                tenant,
                person,
                action,
                "POST",
                EVENTS,
                json={**body, "transactionId": transaction_id},
                timeout=timeout,
                accept=(200, 201, 409),
            )
            return None if answer.status_code == 409 else dict(answer.json())

        def find(transaction_id: str) -> dict[str, Any] | None:
            found = (
                self.client.request(
                    tenant,
                    person,
                    action,
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

        how = Create(
            PROVIDER,
            action,
            graph_transaction_id,
            post,
            find,
            finish=lambda event, tid: {"id": str(event["id"]), "transaction_id": tid},
            same=lambda stored: same_event(stored, body),
        )
        return create_once(self.outbox, tenant, key, how)

    def update_event(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        action = "calendar.update_event"
        event_id = parameters["event_id"]
        body = event_body(parameters)
        body["singleValueExtendedProperties"] = [{"id": STEP_PROPERTY, "value": step_marker(key)}]

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
            return {"id": event_id}

        return once(self.outbox, tenant, key, PROVIDER, action, event_id, patch)

    def delete_event(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        action = "calendar.delete_event"
        event_id = parameters["event_id"]

        def delete(_entry: OutboxEntry) -> dict[str, Any]:
            answer = self.client.request(
                tenant,
                person,
                action,
                "DELETE",
                f"{EVENTS}/{quote(event_id, safe='')}",
                timeout=timeout,
                accept=(204, 404),
            )
            return {"id": event_id, "already_gone": answer.status_code == 404}

        return once(self.outbox, tenant, key, PROVIDER, action, event_id, delete)

    def free_busy(
        self, tenant: str, person: str, parameters: dict[str, Any], key: str, timeout: float
    ) -> dict[str, Any]:
        with reading(PROVIDER, "calendar.free_busy"):
            return self._free_busy(tenant, person, parameters, timeout)

    def _free_busy(
        self, tenant: str, person: str, parameters: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        action = "calendar.free_busy"
        me = self.client.request(
            tenant,
            person,
            action,
            "GET",
            "/v1.0/me",
            params={"$select": "mail,userPrincipalName"},
            timeout=timeout,
            accept=(200,),
        ).json()
        own = str(me.get("mail") or me.get("userPrincipalName") or "")
        attendees = list(parameters.get("attendees") or ())
        answer = self.client.request(
            tenant,
            person,
            action,
            "POST",
            "/v1.0/me/calendar/getSchedule",
            json={
                "schedules": [own, *attendees],
                "startTime": graph_time(parameters["start"]),
                "endTime": graph_time(parameters["end"]),
                "availabilityViewInterval": 30,
            },
            timeout=timeout,
            accept=(200,),
        ).json()
        schedules = [s for s in answer.get("value") or [] if isinstance(s, dict)]
        by_address = {str(s.get("scheduleId", "")).lower(): s for s in schedules}
        shown = []
        for calendar, address in (("primary", own), *((a, a) for a in attendees)):
            held = by_address.get(address.lower())
            if held is None or held.get("error"):
                code = (held or {}).get("error") or {}
                reason = code.get("responseCode") if isinstance(code, dict) else None
                shown.append(busy_calendar(calendar, [], str(reason or "notFound")))
                continue
            busy = [
                (
                    instant(item["start"]["dateTime"], item["start"].get("timeZone")),
                    instant(item["end"]["dateTime"], item["end"].get("timeZone")),
                )
                for item in held.get("scheduleItems") or []
                if item.get("status") != "free"
            ]
            shown.append(busy_calendar(calendar, busy))
        return {"calendars": shown}
