"""What the sync and async clients share: credentials, the read-your-writes position, and
how a request is prepared and its answer taken in. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from clients.sdk.calls import Call
from clients.sdk.errors import ApiError, StreamError
from clients.sdk.models import PushEvent, StreamControl, StreamItem
from clients.sdk.retry import RetryPolicy, new_idempotency_key
from clients.sdk.sse import SseMessage

T = TypeVar("T")
# `closed` frames a subscription resumes from: the server going away, the token expiring.
RESUMABLE_CLOSES = frozenset({"unavailable", "token_expired"})


@dataclass(frozen=True, slots=True)
class Credentials:
    """A signed-in session: the tokens, and whose they are."""

    access_token: str
    refresh_token: str | None = None
    session_id: str | None = None
    tenant_id: str | None = None
    user_id: str | None = None
    device_id: str | None = None


CredentialsHook = Callable[[Credentials], None]


class Core:
    def __init__(
        self,
        credentials: Credentials | None,
        retry: RetryPolicy,
        read_your_writes: bool,
        on_credentials: CredentialsHook | None,
    ) -> None:
        self.credentials = credentials
        self.retry = retry
        self.read_your_writes = read_your_writes
        self.on_credentials = on_credentials
        # The highest store position this client has written or waited for: views are asked
        # to have applied it before they answer (`?after=`).
        self.position: int | None = None

    # ---- requests ------------------------------------------------------------------------

    def key_for(self, call: Call[Any]) -> str | None:
        if not call.command:
            return None
        return call.idempotency_key or new_idempotency_key()

    def is_safe(self, call: Call[Any]) -> bool:
        return call.safe or call.command

    def headers(self, call: Call[Any], key: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        if call.signed_in and self.credentials is not None:
            headers["Authorization"] = f"Bearer {self.credentials.access_token}"
        return headers

    def params(self, call: Call[Any]) -> dict[str, Any]:
        params = dict(call.params)
        if call.consistent and self.read_your_writes and self.position is not None:
            params["after"] = max(int(params.get("after", 0)), self.position)
        return params

    def token_sent(self) -> str | None:
        return self.credentials.access_token if self.credentials else None

    def should_refresh(self, call: Call[Any], error: ApiError) -> bool:
        return (
            call.signed_in
            and error.code == "token_expired"
            and self.credentials is not None
            and self.credentials.refresh_token is not None
        )

    # ---- answers -------------------------------------------------------------------------

    def take(self, call: Call[T], body: Any) -> T:
        result = call.parse(body)
        if isinstance(body, dict):
            self._grant(call, body)
            position = body.get("position")
            if call.command and isinstance(position, int):
                self.saw(position)
        return result

    def saw(self, position: int) -> None:
        if self.read_your_writes and (self.position is None or position > self.position):
            self.position = position

    def _grant(self, call: Call[Any], body: dict[str, Any]) -> None:
        if call.grant == "session":
            self.set_credentials(
                Credentials(
                    access_token=body["access_token"],
                    refresh_token=body["refresh_token"],
                    session_id=body["session_id"],
                    tenant_id=body["tenant_id"],
                    user_id=body["user_id"],
                    device_id=body["device_id"],
                )
            )
        elif call.grant in ("pair", "access") and self.credentials is not None:
            refresh_token = body.get("refresh_token", self.credentials.refresh_token)
            self.set_credentials(
                replace(
                    self.credentials,
                    access_token=body["access_token"],
                    refresh_token=refresh_token,
                )
            )

    def set_credentials(self, credentials: Credentials) -> None:
        self.credentials = credentials
        if self.on_credentials is not None:
            self.on_credentials(credentials)

    # ---- push ----------------------------------------------------------------------------

    def stream_headers(self, last_event_id: str | None) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.credentials is not None:
            headers["Authorization"] = f"Bearer {self.credentials.access_token}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        return headers


def stream_item(message: SseMessage) -> StreamItem:
    """A pushed message as a model; `closed`/`resync_required` that cannot be resumed from
    raise StreamError, resumable ones are returned for the client to reconnect."""
    body = json.loads(message.data)
    if body.get("type") == "event":
        return PushEvent.model_validate(body)
    control = StreamControl.model_validate(body)
    if control.type in ("closed", "resync_required"):
        error = control.error or {}
        code = str(error.get("code", control.type))
        if control.type == "resync_required" or code not in RESUMABLE_CLOSES:
            raise StreamError(code, str(error.get("message", "")), control.position)
    return control


def resumable_close(item: StreamItem) -> str | None:
    """The code of a `closed` frame to reconnect after, else None."""
    if isinstance(item, StreamControl) and item.type == "closed":
        return str((item.error or {}).get("code", "unavailable"))
    return None
