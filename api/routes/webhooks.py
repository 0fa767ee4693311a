"""Push notifications from providers: Google Calendar channels, Graph subscriptions (calendar
and inbox) and Gmail's Cloud Pub/Sub push.

Nobody signs in here: a notification is trusted only when it names a live channel of Cairn's
and carries that channel's secret (compared in constant time). It only asks for a delta sync,
so whatever a forged or replayed one could say, it changes nothing it could not have asked for.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import ServicesDep
from api.models import ErrorResponse
from commands.integrations.mail_sync import GmailPush
from commands.integrations.sync import Verdict, WebhookRejected
from domain.errors import InvalidInput
from domain.storable import StorableText

router = APIRouter(prefix="/v1/integrations/webhooks", tags=["integrations"])
REJECTED: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "For no live channel of Cairn's"}
}
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Not a Graph notification body"}
}
Short = Annotated[StorableText, Field(max_length=256)]


class NotificationOutcome(BaseModel):
    outcome: Verdict


class GraphNotification(BaseModel):
    model_config = ConfigDict(extra="allow")

    subscription_id: Short = Field(alias="subscriptionId")
    client_state: Short | None = Field(default=None, alias="clientState")
    change_type: Short | None = Field(default=None, alias="changeType")
    lifecycle_event: Short | None = Field(default=None, alias="lifecycleEvent")
    # The subscription's expiry when Graph sent it: one that passed marks a replay older than
    # the window in which seen notifications are kept (commands/integrations/pruning.py).
    subscription_expires: datetime | None = Field(
        default=None, alias="subscriptionExpirationDateTime"
    )


class GraphNotifications(BaseModel):
    value: list[GraphNotification] = Field(max_length=1000)


class PubSubMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    data: Annotated[StorableText, Field(max_length=4096)]
    message_id: Short = Field(alias="messageId")


class PubSubPush(BaseModel):
    """Cloud Pub/Sub's push envelope (Gmail's notification is `message.data`)."""

    model_config = ConfigDict(extra="allow")

    message: PubSubMessage
    subscription: Short | None = None


@router.post(
    "/google",
    operation_id="receiveGoogleNotification",
    response_model=NotificationOutcome,
    responses=REJECTED,
)
def google_notification(
    services: ServicesDep,
    x_goog_channel_id: Annotated[Short, Header()],
    x_goog_message_number: Annotated[Short, Header()],
    x_goog_resource_state: Annotated[Short, Header()],
    x_goog_channel_token: Annotated[Short | None, Header()] = None,
    x_goog_resource_id: Annotated[Short | None, Header()] = None,
) -> NotificationOutcome:
    """A Google Calendar push notification (headers only; Google sends no data). A verified
    one asks for a delta sync of the person's calendar; a duplicate changes nothing; one for
    no live channel, with a wrong token or resource, is refused with 403 `webhook_rejected`."""
    verdict = services.feeds.notification(
        "google",
        x_goog_channel_id,
        x_goog_channel_token,
        f"message:{x_goog_message_number}",
        resource_id=x_goog_resource_id or "",
        wants_sync=x_goog_resource_state != "sync",  # the channel's opening handshake
    )
    return NotificationOutcome(outcome=verdict)


@router.post(
    "/microsoft",
    operation_id="receiveGraphNotifications",
    response_model=NotificationOutcome,
    status_code=202,
    responses={
        **REJECTED,
        **BAD_BODY,
        200: {
            "description": "The validation handshake: `validationToken` echoed as text",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
)
async def graph_notifications(
    request: Request,
    services: ServicesDep,
    validation_token: Annotated[
        StorableText | None, Query(alias="validationToken", max_length=1024)
    ] = None,
) -> Any:
    """Microsoft Graph change notifications. With `validationToken` (Graph checking the
    address before it creates a subscription) the token is echoed as plain text. Otherwise each
    notification whose subscription and `clientState` match a live channel asks for a delta
    sync; a duplicate changes nothing; a body with none that matches is refused with 403."""
    if validation_token is not None:
        return PlainTextResponse(validation_token, headers={"X-Content-Type-Options": "nosniff"})
    raw = await request.body()
    try:
        body = GraphNotifications.model_validate_json(raw)
    except ValidationError:
        raise InvalidInput("not a Graph notification body") from None
    verdicts = await run_in_threadpool(_graph, services, body)
    if not verdicts:
        raise WebhookRejected("no notification is for a live channel")
    best = Verdict.ACCEPTED if Verdict.ACCEPTED in verdicts else verdicts[0]
    return NotificationOutcome(outcome=best)


def _graph(services: Any, body: GraphNotifications) -> list[Verdict]:
    verdicts = []
    now = services.feeds.clock()
    for item in body.value:
        expires = item.subscription_expires
        if expires is not None and expires.replace(tzinfo=expires.tzinfo or UTC) <= now:
            continue  # refused like a notification for no live channel
        # The whole notification is its identity: Graph delivers the same one again on retry.
        dumped = item.model_dump(mode="json", by_alias=True)
        canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
        key = "graph:" + hashlib.sha256(canonical.encode()).hexdigest()
        try:
            verdicts.append(
                services.feeds.notification(
                    "microsoft",
                    item.subscription_id,
                    item.client_state,
                    key,
                    wants_sync=item.lifecycle_event in (None, "missed"),
                )
            )
        except WebhookRejected:
            continue
    return verdicts


@router.post(
    "/gmail",
    operation_id="receiveGmailPush",
    response_model=NotificationOutcome,
    responses={
        **REJECTED,
        400: {"model": ErrorResponse, "description": "Not a Pub/Sub push of a Gmail change"},
    },
)
async def gmail_push(request: Request, services: ServicesDep) -> NotificationOutcome:
    """A Gmail change, pushed by Cloud Pub/Sub (`message.data`: the mailbox and its new
    `historyId`). The push's OIDC token (`Authorization: Bearer`) must be Google's, for
    Cairn's audience and from the configured service account, else 403 `webhook_rejected`.
    A verified push asks for a delta sync of that inbox; one seen before (or no newer than
    the last sync) is `duplicate`; one for a mailbox Cairn does not follow is `ignored`."""
    try:
        envelope = PubSubPush.model_validate_json(await request.body())
    except ValidationError:
        raise InvalidInput("not a Pub/Sub push body") from None
    push = GmailPush.from_envelope(envelope.message.message_id, envelope.message.data)
    authorization = request.headers.get("authorization")
    verdict = await run_in_threadpool(services.mail.gmail_push, authorization, push)
    return NotificationOutcome(outcome=verdict)
