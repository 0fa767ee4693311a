"""Everything the views hold for one person's plan, in one statement (decision 0042).

A plan asked three separate transactions (the person's upcoming events, their approved
upstream MCP tools, whether the context graph knows anything of them) although most people
have none of the three: ~1 ms of a worker's CPU per plan and three PostgreSQL transactions.
Here it is one transaction of one statement, read as `cairn_app` with the tenant set (row-level
security on every table it reads), so nothing is cached and nothing can be stale: a tool
approved or an event synced before the read is in it.

Asked with a prefix, the same statement also carries the tenant's sealed secrets of that prefix
(the plan's model keys, decision 0056), read as the vault reads them (`vault.sealed`) under the
vault's own row-level security, as `cairn_planner` (`cairn_app` and the vault's two tables of
sealed rows, migration 0112): the plan's second transaction is gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from adapters.context.calendar import UPCOMING, opened_entry, upcoming_params
from adapters.context.search import person_reader
from adapters.vault import PostgresVault
from adapters.vault.sealed import SEALED_SECRETS_JSON
from commands.ports.mcp_upstream import PinnedTool, UpstreamServer
from commands.ports.upcoming import PersonViews
from commands.ports.vault import Vault

_KNOWS = (
    "EXISTS (SELECT 1 FROM context_memories WHERE tenant_id = %(tenant)s AND user_id = %(user)s)"
    " OR EXISTS (SELECT 1 FROM context_entities"
    " WHERE tenant_id = %(tenant)s AND user_id = %(user)s)"
)
# The person's tools whose last listing is the text they approved: what a plan may offer.
_APPROVED_TOOLS = (
    "SELECT s.server_id, s.user_id, s.name AS server_name, s.url, s.auth, t.name,"
    " t.approved_hash, t.listed_hash, t.description, t.input_schema, t.annotations"
    " FROM mcp_servers s JOIN mcp_tools t USING (tenant_id, server_id)"
    " WHERE s.tenant_id = %(tenant_text)s AND s.user_id = %(user)s"
    " AND t.approved_hash = t.listed_hash"
)
_PERSON_VIEWS = (
    "SELECT (" + _KNOWS + ") AS knows_anything,"  # noqa: S608 (constants of this module only)
    " (SELECT coalesce(json_agg(json_build_array(c.provider, c.item_id, c.starts_at, c.ends_at,"
    " c.sealed_title) ORDER BY c.starts_at, c.item_id), '[]') FROM (" + UPCOMING + ") c)"
    " AS upcoming,"
    " (SELECT coalesce(json_agg(json_build_array(a.server_id, a.user_id, a.server_name, a.url,"
    " a.auth, a.name, a.approved_hash, a.listed_hash, a.description, a.input_schema,"
    " a.annotations) ORDER BY a.server_name, a.server_id, a.name), '[]')"
    " FROM (" + _APPROVED_TOOLS + ") a) AS tools"
)
_PERSON_VIEWS_AND_SECRETS = _PERSON_VIEWS + ", (" + SEALED_SECRETS_JSON + ") AS secrets"


class PostgresPlanningViews:
    """Implements `commands.ports.upcoming.PlanningViews`."""

    def __init__(self, pool: ConnectionPool[Any], vault: Vault) -> None:
        self.pool = pool
        self.vault = vault
        # Secrets are carried only from a vault kept in the views' own database; otherwise a
        # read asked for them answers none (None: ask the vault).
        self.secrets: PostgresVault | None = None
        if isinstance(vault, PostgresVault) and vault.pool is pool:
            self.secrets = vault

    def person_views(
        self,
        tenant_id: UUID,
        user_id: str,
        now: datetime,
        *,
        max_events: int,
        secrets_prefix: str | None = None,
    ) -> PersonViews:
        params = {
            **upcoming_params(tenant_id, user_id, now, max_events),
            "tenant_text": str(tenant_id),
        }
        statement, role = _PERSON_VIEWS, "cairn_app"
        if secrets_prefix is not None and self.secrets is not None:
            statement, role = _PERSON_VIEWS_AND_SECRETS, "cairn_planner"
            params["secrets_prefix"] = secrets_prefix
        with person_reader(self.pool, tenant_id, role) as cur:
            row = cur.execute(statement, params).fetchone()
        upcoming = tuple(
            opened_entry(
                self.vault,
                tenant_id,
                provider,
                item_id,
                datetime.fromisoformat(starts_at),
                datetime.fromisoformat(ends_at) if ends_at else None,
                sealed_title,
            )
            for provider, item_id, starts_at, ends_at, sealed_title in row["upcoming"]
        )
        tools = tuple(
            (UpstreamServer(*tool[:5]), PinnedTool(tool[0], *tool[5:])) for tool in row["tools"]
        )
        sealed = row.get("secrets")
        secrets = None
        if sealed is not None and self.secrets is not None:
            secrets = self.secrets.sealed_rows(str(tenant_id), sealed)
        return PersonViews(bool(row["knows_anything"]), upcoming, tools, secrets)
