"""Implements `commands.ports.connections.ConnectionTokens`: access tokens of connected
accounts, refreshed on use when they expire soon, one refresh at a time per connection
across every process and host.

A refresh (docs/integrations.md, decision 0024):
1. one thread per process and connection goes on (a lock here), the others wait for it and
   then find the fresh token on their first read;
2. that thread holds the connection's row FOR UPDATE (PostgreSQL), reads it again inside the
   lock and returns if another process refreshed meanwhile;
3. it asks the token endpoint once and writes with a compare-and-swap on the row's version;
   an answer without `refresh_token` keeps the old one (the provider did not rotate it);
4. `invalid_grant` alone marks the grant dead (one `ReauthRequired`, then `ReauthNeeded` for
   every caller); a 5xx or a timeout is transient: the row backs off, a still-valid token is
   handed out meanwhile, else `Unavailable` with Retry-After.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from adapters.integrations.oauth.client import OAuthClients
from adapters.integrations.store import TokenRow, TokenRows
from commands.ports.connections import AccessToken, ConnectionMissing, ReauthNeeded
from commands.ports.vault import Erased, Vault
from domain.errors import Unavailable
from domain.integrations.connection import Connection, token_subject
from domain.integrations.grants import GrantRejected, TokenGrant

logger = logging.getLogger("cairn.integrations.tokens")

TOKENS_FIELD = "oauth_tokens"
REFRESH_MARGIN = timedelta(minutes=5)
MAX_BACKOFF_S = 300.0


class ConnectionEvents(Protocol):
    """Where the token side records what happened to a connection (the command side saves
    it on the Connection aggregate)."""

    def refreshed(
        self, tenant: str, connection_id: UUID, expires_at: datetime, rotated: bool
    ) -> None: ...

    def reauth_required(self, tenant: str, connection_id: UUID, reason: str) -> None: ...


def _backoff(failures: int) -> float:
    return min(5.0 * 2.0**failures, MAX_BACKOFF_S)


class VaultConnectionTokens:
    def __init__(
        self,
        rows: TokenRows,
        vault: Vault,
        oauth: OAuthClients,
        events: ConnectionEvents,
        *,
        margin: timedelta = REFRESH_MARGIN,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.rows = rows
        self.vault = vault
        self.oauth = oauth
        self.events = events
        self.margin = margin
        self.clock = clock
        self._locks: dict[UUID, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # The port --------------------------------------------------------------------------------

    def access_token(self, tenant: str, person: str, provider: str) -> AccessToken:
        connection_id = Connection.create_id(tenant, person, provider)
        row = self._usable(self.rows.read(tenant, connection_id), provider)
        if not self._due(row):
            return self._token(row)
        with self._local_lock(connection_id):
            # Another thread of this process may have refreshed while this one waited.
            row = self._usable(self.rows.read(tenant, connection_id), provider)
            if not self._due(row):
                return self._token(row)
            return self._refresh(tenant, connection_id, provider)

    def rejected(self, tenant: str, token: AccessToken) -> None:
        self.rows.expire(tenant, UUID(token.connection_id), token.expires_at)

    # What the command side uses --------------------------------------------------------------

    def store_grant(
        self, tenant: str, connection_id: UUID, person: str, provider: str, grant: TokenGrant
    ) -> None:
        """Keep the tokens of a (re)connect; a grant without a refresh token keeps the one
        stored before (incremental authorization need not send it again)."""
        with self.rows.locked(tenant, connection_id) as (conn, row):
            refresh = grant.refresh_token
            if refresh is None and row is not None:
                refresh = self._open(row).get("refresh_token")
            sealed = self._seal(tenant, connection_id, grant.access_token, refresh)
            key = (tenant, connection_id, person, provider)
            self.rows.put(conn, key, sealed, grant.expires_at, tuple(sorted(grant.scopes)))

    def disconnect(self, tenant: str, connection_id: UUID, provider: str) -> bool:
        """Revoke at the provider (RFC 7009) and crypto-shred the tokens; True if the
        provider confirmed the revocation."""
        revoked = False
        with self.rows.locked(tenant, connection_id) as (conn, row):
            if row is not None:
                tokens = self._open(row)
                token = tokens.get("refresh_token") or tokens.get("access_token")
                hint = "refresh_token" if tokens.get("refresh_token") else "access_token"
                if token:
                    revoked = self.oauth.revoke(provider, token, hint)
                self.rows.delete(conn, tenant, connection_id)
            # Shredded even when the provider did not answer: Cairn can no longer use them.
            self.vault.erase_subject(tenant, token_subject(connection_id))
        return revoked

    def health(self, tenant: str, connection_id: UUID) -> TokenRow | None:
        return self.rows.read(tenant, connection_id)

    def providers_of(self, tenant: str, person: str) -> list[str]:
        return self.rows.providers_of(tenant, person)

    def keep_alive(self, tenant: str, connection_id: UUID, idle: timedelta) -> bool:
        """Refresh a connection nothing used for `idle` (providers expire idle refresh tokens);
        False when there is nothing to keep alive."""
        row = self.rows.read(tenant, connection_id)
        if row is None:
            return False
        if row.status != "active":
            # Idempotent on the aggregate: records ReauthRequired only if it was lost.
            reason = "the provider answered invalid_grant"
            self._record(lambda: self.events.reauth_required(tenant, connection_id, reason))
            return False
        if self.clock() - row.refreshed_at < idle:
            return True
        with self._local_lock(connection_id):
            self._refresh(tenant, connection_id, row.provider, force_before=self.clock() - idle)
        return True

    # Inside ----------------------------------------------------------------------------------

    def _local_lock(self, connection_id: UUID) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(connection_id, threading.Lock())

    def _usable(self, row: TokenRow | None, provider: str) -> TokenRow:
        if row is None:
            raise ConnectionMissing(
                f"no account is connected at {provider!r}; connect one in the console",
                {"provider": provider},
            )
        if row.status != "active":
            raise ReauthNeeded(
                f"the connection to {provider!r} was revoked or expired at the provider:"
                " the person must connect the account again",
                {"provider": provider, "connection_id": str(row.connection_id)},
            )
        return row

    def _due(self, row: TokenRow) -> bool:
        return row.expires_at - self.clock() <= self.margin

    def _seal(self, tenant: str, connection_id: UUID, access: str, refresh: str | None) -> str:
        plain = json.dumps({"access_token": access, "refresh_token": refresh})
        return self.vault.seal_personal(tenant, token_subject(connection_id), TOKENS_FIELD, plain)

    def _open(self, row: TokenRow) -> dict[str, str | None]:
        plain = self.vault.open_personal(row.tenant_id, row.sealed, TOKENS_FIELD)
        if isinstance(plain, Erased):
            raise ConnectionMissing(
                "this connection's tokens were shredded", {"provider": row.provider}
            )
        opened: dict[str, str | None] = json.loads(plain)
        return opened

    def _token(self, row: TokenRow) -> AccessToken:
        access = self._open(row).get("access_token")
        if not access:
            raise ConnectionMissing("no access token is stored", {"provider": row.provider})
        return AccessToken(
            str(row.connection_id), row.provider, access, row.expires_at, frozenset(row.scopes)
        )

    def _refresh(
        self,
        tenant: str,
        connection_id: UUID,
        provider: str,
        force_before: datetime | None = None,
    ) -> AccessToken:
        now = self.clock()
        with self.rows.locked(tenant, connection_id) as (conn, row):
            row = self._usable(row, provider)
            fresh = force_before is None or row.refreshed_at > force_before
            if fresh and not self._due(row):
                return self._token(row)  # another process refreshed while this one waited
            if row.retry_at is not None and row.retry_at > now:
                return self._meanwhile(row, (row.retry_at - now).total_seconds())
            tokens = self._open(row)
            refresh = tokens.get("refresh_token")
            died: str | None = None
            dead = False
            fallback: TokenRow | None = None
            grant: TokenGrant | None = None
            if not refresh:
                died = "the provider gave no refresh token"
            else:
                try:
                    grant = self.oauth.refresh(provider, refresh, row.scopes)
                except GrantRejected:
                    died = "the provider answered invalid_grant"
                except Unavailable as exc:
                    delay = _backoff(row.failures)
                    self.rows.failed(conn, row, now + timedelta(seconds=delay), exc.code)
                    fallback = row
            if died is not None:
                dead = self.rows.dead(conn, row)
            elif grant is not None:
                # No refresh_token in the answer: the provider did not rotate it; keep it.
                kept = grant.refresh_token or refresh
                assert kept is not None
                sealed = self._seal(tenant, connection_id, grant.access_token, kept)
                scopes = tuple(sorted(grant.scopes)) or row.scopes
                if not self.rows.swap(conn, row, sealed, grant.expires_at, scopes):
                    raise Unavailable("the token changed during its refresh; retry")
        # Committed: what the row now says holds for every process.
        if died is not None:
            return self._died(tenant, connection_id, provider, dead, died)
        if fallback is not None:
            return self._meanwhile(fallback, _backoff(fallback.failures))
        assert grant is not None
        done = grant
        self._record(
            lambda: self.events.refreshed(
                tenant, connection_id, done.expires_at, done.refresh_token is not None
            )
        )
        return AccessToken(
            str(connection_id), provider, done.access_token, done.expires_at, frozenset(scopes)
        )

    def _meanwhile(self, row: TokenRow, retry_after: float) -> AccessToken:
        """The provider is down: the old token while it is valid, else `Unavailable`."""
        if row.expires_at > self.clock():
            return self._token(row)
        raise Unavailable(
            f"the provider {row.provider!r} cannot refresh the token now; retry later",
            {"provider": row.provider, "retry_after": max(1, int(retry_after))},
        )

    def _died(
        self, tenant: str, connection_id: UUID, provider: str, changed: bool, reason: str
    ) -> AccessToken:
        if changed:
            self._record(lambda: self.events.reauth_required(tenant, connection_id, reason))
        raise ReauthNeeded(
            f"the connection to {provider!r} needs the person to connect again: {reason}",
            {"provider": provider, "connection_id": str(connection_id)},
        )

    def _record(self, record: Callable[[], None]) -> None:
        try:
            record()
        except Exception:
            # The row is committed and decides for every caller; a lost ReauthRequired is
            # recorded by the keep-alive's next look, a lost TokenRefreshed only costs history.
            logger.exception("recording a connection event failed")
