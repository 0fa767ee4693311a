"""The signed-in SDK client of the people's commands, and when a followed run has ended."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clients.people import config
from clients.sdk import Cairn, Credentials, NotAuthenticated, PushEvent
from clients.sdk.errors import CairnError

# The run events after which a run waits for nothing from `cairn intent --wait`.
FINAL = frozenset(
    {
        "RunCompleted",
        "RunFailed",
        "RunCancelled",
        "EscalationRequested",
        "EscalationDenied",
        "EscalationExpired",
    }
)


def final_state(event: PushEvent) -> bool:
    name = event.event.rsplit(".", 1)[-1]
    if name == "PolicyDecided":
        return (event.state or {}).get("outcome") == "DENY"
    return name in FINAL


class NotSignedIn(CairnError):
    pass


def client() -> Cairn:
    """The saved session's client; refreshed tokens are saved as they come."""
    loaded = config.load()
    if loaded is None:
        raise NotSignedIn("not signed in: run `cairn login`")
    api, credentials = loaded

    def keep(refreshed: Credentials) -> None:
        config.save(api, refreshed)

    return Cairn(api, credentials=credentials, on_credentials=keep)


@contextmanager
def signed_in_client() -> Iterator[Cairn]:
    with client() as cairn:
        try:
            yield cairn
        except NotAuthenticated as exc:
            if exc.code in ("refresh_token_invalid", "refresh_token_reused", "session_revoked"):
                raise NotSignedIn(f"{exc.code}: sign in again with `cairn login`") from exc
            raise
