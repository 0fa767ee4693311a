"""Where the OAuth authorization server keeps what lives between its requests: registered
clients, authorization requests waiting for consent, codes, and which session a grant opened.

Implemented by adapters/mcp/oauth_store.py (PostgreSQL, migration 0085). Codes are spent at
most once: `take_code` removes the row it returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, Protocol


class GrantRecord(NamedTuple):
    client_id: str
    resource: str
    scopes: str


class RefreshGrant(NamedTuple):
    tenant: str
    session_id: str
    grant: GrantRecord


class OAuthStore(Protocol):
    def register_client(self, client_id: str, metadata: dict[str, Any], now: datetime) -> None: ...

    def get_client(self, client_id: str) -> dict[str, Any] | None: ...

    def put_request(self, request_id: str, request: dict[str, Any], expires_at: datetime) -> None:
        """Keep an authorization request until the person decides (or it expires)."""
        ...

    def get_request(self, request_id: str, now: datetime) -> dict[str, Any] | None: ...

    def take_request(self, request_id: str, now: datetime) -> dict[str, Any] | None:
        """Remove and return the request: only the first decision gets it."""
        ...

    def put_code(
        self, tenant: str, code_hash: bytes, grant: dict[str, Any], expires_at: datetime
    ) -> None: ...

    def take_code(self, tenant: str, code_hash: bytes, now: datetime) -> dict[str, Any] | None:
        """Remove and return the code's grant if it is unexpired: the first redeemer wins."""
        ...

    def record_grant(
        self, tenant: str, session_id: str, grant: GrantRecord, now: datetime
    ) -> None: ...

    def grant_of_refresh_token(self, refresh_token: str) -> RefreshGrant | None:
        """The grant whose session this refresh token belongs to; None for any other token
        (a first-party session's among them)."""
        ...

    def grant_of_session(self, tenant: str, session_id: str) -> GrantRecord | None: ...
