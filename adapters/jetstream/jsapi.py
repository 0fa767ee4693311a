"""JetStream calls on top of the connection's request primitive: JSON API and direct get."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from adapters.jetstream.errors import EventStoreUnavailable, JetStreamApiError, direct_get_error


def status_of(msg: Msg) -> str | None:
    return msg.headers.get(h.STATUS) if msg.headers else None


def _status_error(msg: Msg, stream: str) -> Exception:
    description = msg.headers.get("Description", "") if msg.headers else ""
    return direct_get_error(stream, status_of(msg), description)


class JetStreamCalls(ABC):
    url: str

    @abstractmethod
    def _request(
        self,
        subject: str,
        payload: bytes,
        headers: Mapping[str, str] | None,
        *,
        write: bool,
        multi: bool,
        count: bool,
    ) -> Callable[[float | None], Any]:
        """Send a request; returns a function that waits for the reply."""

    def api(self, subject: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call the JetStream JSON API (``$JS.API.<subject>``)."""
        payload = json.dumps(body).encode() if body is not None else b""
        msg: Msg = self._request(
            f"$JS.API.{subject}", payload, None, write=False, multi=False, count=False
        )(None)
        if status_of(msg) == "503":
            raise EventStoreUnavailable(f"JetStream is not available at {self.url} (no responders)")
        response: dict[str, Any] = json.loads(msg.data)
        error = response.get("error")
        if error:
            raise JetStreamApiError(
                str(error.get("description")),
                int(error.get("code", 0)),
                int(error.get("err_code", 0)),
            )
        return response

    def direct_get(self, stream: str, body: Mapping[str, Any]) -> Msg | None:
        """One message by direct get (``last_by_subj``, ``seq`` + ``next_by_subj``), or None."""
        payload = json.dumps(body).encode()
        msg: Msg = self._request(
            f"$JS.API.DIRECT.GET.{stream}", payload, None, write=False, multi=False, count=True
        )(None)
        status = status_of(msg)
        if status is None:
            return msg
        if status == "404":
            return None
        raise _status_error(msg, stream)

    def direct_get_batch(self, stream: str, body: Mapping[str, Any]) -> tuple[list[Msg], int]:
        """Up to ``body["batch"]`` messages; returns them and how many more match after them.
        (Through nats-py's dispatch: bulk reads use ``request_page``, which is much faster.)"""
        payload = json.dumps(body).encode()
        msgs, end = self._request(
            f"$JS.API.DIRECT.GET.{stream}", payload, None, write=False, multi=True, count=True
        )(None)
        status = status_of(end)
        if status == "404":
            return msgs, 0
        if status != "204":
            raise _status_error(end, stream)
        pending = end.headers.get(h.NATS_NUM_PENDING) if end.headers else None
        return msgs, int(pending) if pending else 0
