"""What the token side records on a connection: `TokenRefreshed`, and `ReauthRequired` with
a security notice to the person (the security feed their devices follow)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from commands.identity.context import IdentityPorts
from commands.integrations.ports import ConnectionsApplication
from domain.event_context import SYSTEM, EventContext
from domain.integrations.connection import Connection

logger = logging.getLogger("cairn.integrations")

ATTEMPTS = 3
REAUTH_NOTICE = "connection_reauth_required"


class ConnectionRecords:
    """Implements the token adapter's `ConnectionEvents`."""

    def __init__(self, app: ConnectionsApplication, identity: IdentityPorts | None) -> None:
        self.app = app
        self.identity = identity

    def _change(
        self, tenant: str, connection_id: UUID, change: Callable[[Connection], bool]
    ) -> Connection | None:
        # A concurrent save of the same connection (a connect, another refresh) is retried
        # on a fresh load: these facts are appended, never decided against stale state.
        for attempt in range(ATTEMPTS):
            try:
                connection: object = self.app.repository.get(connection_id)
            except AggregateNotFoundError:
                return None
            assert isinstance(connection, Connection)
            if not change(connection):
                return None
            try:
                self.app.save(connection, context=EventContext(tenant=tenant, actor=SYSTEM))
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            return connection
        return None

    def refreshed(
        self, tenant: str, connection_id: UUID, expires_at: datetime, rotated: bool
    ) -> None:
        def change(connection: Connection) -> bool:
            connection.refreshed(expires_at, rotated)
            return True

        self._change(tenant, connection_id, change)

    def reauth_required(self, tenant: str, connection_id: UUID, reason: str) -> None:
        recorded = self._change(tenant, connection_id, lambda c: c.require_reauth(reason))
        if recorded is None or self.identity is None:
            return
        try:
            person: UUID | None = UUID(recorded.person_id)
        except ValueError:
            person = None
        self.identity.record_security_event(
            REAUTH_NOTICE,
            "action_needed",
            tenant_id=UUID(tenant),
            user_id=person,
            details={"provider": recorded.provider, "connection_id": str(connection_id)},
        )
