"""The synchronous client: `Cairn(base_url)` or `Cairn(http=<an httpx.Client>)`.

Commands get an `Idempotency-Key` and are retried with it (no answer, 503, 429); queries of
views wait for the client's last write (`?after=`); an expired access token is refreshed once
and the request sent again; errors raise `ApiError` subclasses carrying the API's `code`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import TypeVar

import httpx

from clients.sdk import calls
from clients.sdk import models as m
from clients.sdk.core import Core, Credentials, CredentialsHook, resumable_close, stream_item
from clients.sdk.endpoints import Endpoints
from clients.sdk.errors import ApiError, Unreachable, error_of
from clients.sdk.retry import RetryPolicy
from clients.sdk.sse import SseParser

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Cairn(Endpoints):
    def __init__(
        self,
        base_url: str | None = None,
        *,
        http: httpx.Client | None = None,
        credentials: Credentials | None = None,
        retry: RetryPolicy | None = None,
        read_your_writes: bool = True,
        on_credentials: CredentialsHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if http is None and base_url is None:
            raise ValueError("give the API's base_url, or an httpx.Client as http")
        self._owns_http = http is None
        self.http = http or httpx.Client(base_url=base_url or "", timeout=DEFAULT_TIMEOUT)
        self.core = Core(credentials, retry or RetryPolicy(), read_your_writes, on_credentials)
        self._sleep = sleep
        self._refresh_lock = threading.Lock()

    def __enter__(self) -> Cairn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def signed_in_as(self, credentials: Credentials | None) -> Cairn:
        """Another client on the same connection pool, for another person."""
        return Cairn(
            http=self.http,
            credentials=credentials,
            retry=self.core.retry,
            read_your_writes=self.core.read_your_writes,
            sleep=self._sleep,
        )

    @property
    def credentials(self) -> Credentials | None:
        return self.core.credentials

    @property
    def position(self) -> int | None:
        """The store position this client's queries wait for (its last write)."""
        return self.core.position

    # ---- sending -------------------------------------------------------------------------

    def call(self, call: calls.Call[T]) -> T:
        """Send `call`, retrying only where that cannot apply it twice (retry.py)."""
        key = self.core.key_for(call)
        safe = self.core.is_safe(call)
        attempt, refreshed = 0, False
        while True:
            sent_token = self.core.token_sent()
            try:
                response = self.http.request(
                    call.method,
                    call.path,
                    json=call.json,
                    params=self.core.params(call),
                    headers=self.core.headers(call, key),
                )
            except httpx.TransportError as exc:
                delay = self.core.retry.after_no_answer(attempt, safe=safe)
                if delay is None:
                    raise Unreachable(f"no answer from Cairn: {exc}") from exc
                self._sleep(delay)
                attempt += 1
                continue
            if response.is_success:
                return self.core.take(call, response.json())
            error = error_of(response)
            if not refreshed and self.core.should_refresh(call, error):
                self._refresh(sent_token)
                refreshed = True
                continue
            delay = self.core.retry.after_error(error, attempt, safe=safe)
            if delay is None:
                raise error
            self._sleep(delay)
            attempt += 1

    def refresh(self) -> Credentials:
        """Rotate the refresh token now (it is also done on `token_expired`)."""
        self._refresh(self.core.token_sent())
        assert self.core.credentials is not None
        return self.core.credentials

    def _refresh(self, stale_token: str | None) -> None:
        # One refresh at a time: a second thread that saw the same expired token uses the
        # first one's result (presenting a used refresh token would end the whole family).
        with self._refresh_lock:
            current = self.core.credentials
            if current is None or current.refresh_token is None:
                return
            if current.access_token != stale_token:
                return
            self.call(calls.refresh(current.refresh_token))

    def wait_for(self, position: int | None) -> None:
        """Read your writes: from now on this client's queries of views answer only once the
        view has applied `position` (a command's answer, or a pushed event's id)."""
        if position is not None:
            self.core.position = max(position, self.core.position or 0)

    def follow(
        self, run_id: str, until: Callable[[m.PushEvent], bool], *, after: int | None = None
    ) -> m.Run:
        """Wait on the run's pushed events until `until(event)`, then read the run once at
        that event's position (no polling). By default it starts after this client's last
        write (so right after `submit_intent`, nothing the run does is missed)."""
        if after is None:
            after = self.core.position
        for item in self.subscribe(run_id=run_id, last_event_id=after):
            if isinstance(item, m.PushEvent) and until(item):
                return self.run(run_id, after=item.position)
        raise AssertionError("unreachable: a subscription ends only by raising")

    # ---- push ----------------------------------------------------------------------------

    def subscribe(
        self,
        *,
        run_id: str | None = None,
        last_event_id: int | None = None,
        read_timeout: float = 60.0,
    ) -> Generator[m.StreamItem, None, None]:
        """The tenant's (or one run's) events as they are stored, with `ready` when caught up.
        Reconnects after a dropped connection, a server going away or an expired token,
        resuming after the last position received; raises StreamError when it cannot."""
        parser = SseParser(None if last_event_id is None else str(last_event_id))
        params = {"run_id": run_id} if run_id else {}
        timeout = httpx.Timeout(DEFAULT_TIMEOUT.connect, read=read_timeout)
        attempt = 0
        while True:
            sent_token = self.core.token_sent()
            headers = self.core.stream_headers(parser.last_event_id)
            try:
                with self.http.stream(
                    "GET", "/v1/stream", params=params, headers=headers, timeout=timeout
                ) as response:
                    if not response.is_success:
                        response.read()
                        self._after_refused(error_of(response), attempt, sent_token)
                        attempt += 1
                        continue
                    attempt = 0
                    closed = yield from _items(response, parser)
            except httpx.TransportError as exc:
                delay = self.core.retry.after_no_answer(attempt, safe=True)
                if delay is None:
                    raise Unreachable(f"push stream lost: {exc}") from exc
                self._sleep(delay)
                attempt += 1
                continue
            if closed == "token_expired":
                self._refresh(sent_token)
            else:
                self._sleep(self.core.retry.backoff(0))

    def _after_refused(self, error: ApiError, attempt: int, sent_token: str | None) -> None:
        if attempt == 0 and error.code == "token_expired" and self.core.credentials:
            self._refresh(sent_token)
            return
        delay = self.core.retry.after_error(error, attempt, safe=True)
        if delay is None:
            raise error
        self._sleep(delay)


def _items(
    response: httpx.Response, parser: SseParser
) -> Generator[m.StreamItem, None, str | None]:
    """The items of one connection; returns the code of a resumable `closed` (or None when
    the server just ended the stream)."""
    for line in response.iter_lines():
        for message in parser.feed(line):
            item = stream_item(message)
            closed = resumable_close(item)
            if closed is not None:
                return closed
            yield item
    return None
