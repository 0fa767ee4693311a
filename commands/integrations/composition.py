"""The composition of connected accounts (a composition root beside commands/bootstrap.py):
the connection ports with the feeds that follow each connection, the calendar (`FeedSync`)
and the inbox (`MailSync`), built once and shared by the webhook routes, the worker and the
connection lifecycle (decision 0032)."""

from __future__ import annotations

from typing import Any

import redis
from psycopg_pool import ConnectionPool

from adapters.integrations.oauth.client import OAuthClients, new_code_verifier
from adapters.integrations.oauth.providers import provider_configs
from adapters.integrations.providers.outbox import PostgresOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.integrations.pubsub import gmail_push_verifier
from adapters.integrations.states import RedisAuthorizationStates
from adapters.integrations.store import TokenRows
from adapters.integrations.tokens import VaultConnectionTokens
from adapters.integrations.webhooks_store import PostgresFeedStore
from adapters.mcp.upstream_oauth import McpServerAuthorization
from adapters.postgres.timers import PostgresTimers
from adapters.vault import PostgresVault
from commands.identity.context import IdentityPorts
from commands.integrations.mail_sync import MailSync
from commands.integrations.ports import ConnectionsApplication, ConnectionsPorts
from commands.integrations.records import ConnectionRecords
from commands.integrations.sync import FeedsApplication, FeedSync
from commands.settings import CairnSettings


def feed_syncs(
    settings: CairnSettings, pool: ConnectionPool[Any], vault: PostgresVault
) -> tuple[FeedSync, MailSync]:
    """The people's calendars and inboxes, in one application with one bookkeeping; their
    provider adapters are set once connected-account tokens exist (`connections_ports`)."""
    feeds = FeedSync(
        FeedsApplication(env=settings.event_store_env()),
        PostgresFeedStore(pool),
        PostgresTimers(pool),
        vault,
        settings.webhook_base_url,
    )
    verifier = gmail_push_verifier(
        settings.provider_urls.get("google"),
        settings.webhook_base_url,
        settings.gmail_push_service_account,
    )
    return feeds, MailSync.beside(feeds, verifier)


def connections_ports(
    settings: CairnSettings,
    pool: ConnectionPool[Any],
    client: redis.Redis,
    vault: PostgresVault,
    identity: IdentityPorts,
    feeds: FeedSync | None = None,
    mcp: McpServerAuthorization | None = None,
    mail: MailSync | None = None,
) -> ConnectionsPorts:
    """Connected accounts (docs/integrations.md): the token port provider adapters use is
    `connections.tokens`."""
    app = ConnectionsApplication(env=settings.event_store_env())
    oauth = OAuthClients(
        provider_configs(settings.oauth_providers, settings.env),
        settings.redirect_uri(),
        more=mcp.provider if mcp is not None else None,  # people's upstream MCP servers
    )
    tokens = VaultConnectionTokens(TokenRows(pool), vault, oauth, ConnectionRecords(app, identity))
    if settings.oauth_providers:
        # A disconnect (in any process) stops the person's channels while it still can.
        providers = connected_providers(
            settings.provider_urls,
            tokens,
            PostgresOutbox(pool),
            gmail_topic=settings.gmail_pubsub_topic,
        )
        if feeds is not None:
            feeds.apis = providers.feeds
        if mail is not None:
            mail.apis = providers.mail_feeds
    return ConnectionsPorts(
        app=app,
        tokens=tokens,
        oauth=oauth,
        states=RedisAuthorizationStates(client, prefix=f"{settings.redis_prefix}:oauth"),
        vault=vault,
        timers=PostgresTimers(pool),
        new_verifier=new_code_verifier,
        feeds=feeds,
        mail=mail,
    )
