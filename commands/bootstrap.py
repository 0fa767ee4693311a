"""The composition root: build every adapter once and hand handlers their ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

import redis
from psycopg_pool import ConnectionPool

from adapters.context.embeddings import LiteLLMEmbedder, OfflineEmbedder
from adapters.context.extraction import LiteLLMExtractor
from adapters.context.payloads import PostgresPayloads
from adapters.context.planning_views import PostgresPlanningViews
from adapters.context.search import ContextSearch
from adapters.executor.handlers import default_registry
from adapters.executor.http_client import HttpIntegrations
from adapters.failpoints import FailpointIntegrations, Failpoints
from adapters.idempotency import IdempotencyStore
from adapters.integrations.providers.outbox import Outbox, PostgresOutbox, ReachingOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.jetstream.head import last_position_of
from adapters.llm.context import ClockContextProvider, GraphContextProvider
from adapters.llm.embedding import LiteLLMEmbeddings
from adapters.llm.endpoints import ResolvingEndpointGuard
from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from adapters.llm.planner import LiteLLMPlanner
from adapters.mcp.upstream_client import SdkUpstreamClient
from adapters.mcp.upstream_oauth import McpServerAuthorization
from adapters.mcp.upstream_store import PostgresUpstreamStore
from adapters.policy.engine import CedarPolicyEngine
from adapters.ratelimit import RedisLoginGuard, RedisRateLimiter
from adapters.tokens import AccessTokens, PostgresSessions, TokenKeys
from adapters.tokens.device_grants import RedisDeviceGrants
from adapters.tokens.recovery_codes import Argon2CodeHasher
from adapters.totp.totp import RedisTotp
from adapters.vault import KeyRing, PostgresVault
from adapters.webauthn import PasskeyRelyingParty, RedisChallengeStore
from commands.context.application import ContextApplication, ContextPorts
from commands.context.embedders import TenantEmbedders
from commands.dispatch import Dispatcher, Ports
from commands.identity.context import IdentityApplication, IdentityPorts
from commands.identity.principals import PrincipalCache
from commands.integrations.composition import connections_ports, feed_syncs
from commands.integrations.mail_sync import MailSync
from commands.integrations.ports import ConnectionsPorts
from commands.integrations.sync import FeedSync
from commands.mcp.upstream_actions import UpstreamIntegrations, WithUpstreamTools, plan_tools
from commands.mcp.upstream_service import UpstreamPorts
from commands.ports.connections import ConnectionTokens
from commands.ports.endpoints import McpServerRefused
from commands.ports.idempotency import IdempotencyRecords
from commands.ports.integrations import Integrations
from commands.ports.policy import PolicyEngine
from commands.ports.ratelimit import RateLimiter
from commands.runs.execute import execute_run
from commands.runs.pipeline import PipelinePorts
from commands.runs.policies import RunsApplication
from commands.settings import CairnSettings
from commands.table import HANDLERS
from domain.event_context import EventContext
from domain.runs.run import Run


@dataclass(frozen=True)
class RunsPorts:
    app: RunsApplication
    policy: PolicyEngine


@dataclass
class Services:
    settings: CairnSettings
    identity: IdentityPorts
    runs: RunsPorts
    commands: Dispatcher
    rate_limiter: RateLimiter
    idempotency: IdempotencyRecords
    pool: ConnectionPool[Any]
    redis: redis.Redis
    principals: PrincipalCache
    context: ContextPorts
    # People's calendars followed through push notifications and delta sync.
    feeds: FeedSync
    # And their inboxes (calendar and mail feeds share `feeds.app`).
    mail: MailSync
    # The event store's last position, None when it cannot tell (a query's `?after=`).
    last_position: Callable[[], int | None] = lambda: None
    # Access tokens of people's connected accounts; None until connections are configured,
    # and then every provider is reached through the generic HTTP port.
    connections: ConnectionsPorts | None = None
    connection_tokens: ConnectionTokens | None = None

    def close(self) -> None:
        self.identity.app.close()
        self.runs.app.close()
        if self.connections is not None:
            self.connections.app.close()
        self.feeds.app.close()
        self.context.app.close()
        self.pool.close()
        self.redis.close()


def bootstrap(settings: CairnSettings) -> Services:
    pool: ConnectionPool[Any] = ConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=20,
        open=True,
        timeout=5,
        kwargs={"autocommit": False},
    )
    # Few retries and short timeouts: a Redis outage must become a quick 503, not a hang.
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2, retry_on_timeout=False
    )
    prefix = settings.redis_prefix
    keys_dir = settings.data_dir / "keys"
    tokens = AccessTokens(
        TokenKeys.from_env(settings.env, keys_dir / "jwt-signing.pem"),
        # No authentication cache at all with CAIRN_AUTH_CACHE_S=0 (decision 0010).
        remember=10_000 if settings.auth_cache_s > 0 else 0,
    )
    vault = PostgresVault(pool, KeyRing.from_env(settings.env, keys_dir / "vault-keks"))
    passkeys = PasskeyRelyingParty(
        settings.rp_id,
        settings.rp_name,
        list(settings.origins),
        RedisChallengeStore(client, prefix=f"{prefix}:webauthn"),
        registration_ttl_s=settings.passkey_ttl_s,
        authentication_ttl_s=settings.passkey_ttl_s,
    )
    principals = PrincipalCache(settings.auth_cache_s)
    sessions = PostgresSessions(pool, tokens)
    sessions.on_revoked.append(lambda _tenant, ids: principals.forget_sessions(ids))
    identity_app = IdentityApplication(env=settings.event_store_env())
    identity_app.on_saved.append(principals.forget_recorded)
    identity = IdentityPorts(
        app=identity_app,
        vault=vault,
        passkeys=passkeys,
        sessions=sessions,
        tokens=tokens,
        login_guard=RedisLoginGuard(client, prefix=f"{prefix}:login"),
        totp=RedisTotp(client, prefix=f"{prefix}:totp"),
        device_grants=RedisDeviceGrants(client, prefix=f"{prefix}:device"),
        recovery_codes=Argon2CodeHasher(),
        model_endpoints=ResolvingEndpointGuard(settings.allow_private_model_endpoints),
    )
    runs = RunsPorts(
        app=RunsApplication(env=settings.event_store_env()),
        policy=CedarPolicyEngine(),
    )
    feeds, mail = feed_syncs(settings, pool, vault)
    authorization = McpServerAuthorization(pool, mcp_guard(settings), settings.redirect_uri())
    connections = connections_ports(
        settings, pool, client, vault, identity, feeds, authorization, mail
    )
    payloads = PostgresPayloads(pool)
    context = context_ports(settings, pool, vault, payloads)
    return Services(
        settings=settings,
        identity=identity,
        runs=runs,
        commands=Dispatcher(
            Ports(identity, runs.app, runs.policy, connections=connections, context=context),
            HANDLERS,
        ),
        rate_limiter=RedisRateLimiter(client, prefix=f"{prefix}:rate"),
        idempotency=IdempotencyStore(client, prefix=f"{prefix}:idem"),
        pool=pool,
        redis=client,
        principals=principals,
        connections=connections,
        # The provider adapters act with people's own tokens once accounts can be connected.
        connection_tokens=connections.tokens if settings.oauth_providers else None,
        feeds=feeds,
        mail=mail,
        context=context,
        last_position=last_position_of(runs.app.recorder),
    )


def context_ports(
    settings: CairnSettings, pool: ConnectionPool[Any], vault: PostgresVault, payloads: Any
) -> ContextPorts:
    """The context graph: its embedder chosen per tenant (CAIRN_EMBEDDING_MODEL), and its
    model calls through the planner's gateway (endpoint guard, mock answers in tests)."""
    offline = OfflineEmbedder()
    guard = ResolvingEndpointGuard(settings.allow_private_model_endpoints)
    embeddings = LiteLLMEmbeddings(guard)
    embedders = TenantEmbedders(
        settings.embedding_model,
        vault,
        offline,
        lambda model, lease: LiteLLMEmbedder(model, lease, embeddings),
    )
    text = settings.llm_mock_answer_text()
    mock = MockAnswer.text(text) if text is not None else None
    gateway = LiteLLMGateway((lambda _model: mock) if mock is not None else None, guard=guard)
    return ContextPorts(
        app=ContextApplication(env=settings.event_store_env()),
        vault=vault,
        payloads=payloads,
        embedders=embedders,
        directory=payloads,
        search=ContextSearch(pool, offline, embedders),
        extractor=LiteLLMExtractor(gateway),
    )


def pipeline_ports(services: Services, failpoints: Failpoints | None = None) -> PipelinePorts:
    """What a worker needs to move runs: the planner, the policy and the executor."""
    settings = services.settings
    runs = services.runs
    integrations: Integrations = HttpIntegrations(settings.provider_urls)
    if services.connection_tokens is not None:
        outbox: Outbox = PostgresOutbox(services.pool)
        if failpoints is not None:
            outbox = ReachingOutbox(outbox, failpoints.reach)
        providers = connected_providers(
            settings.provider_urls,
            services.connection_tokens,
            outbox,
            fallback=integrations,
            gmail_topic=settings.gmail_pubsub_topic,
            seal=services.context.vault.seal_personal,
        )
        services.feeds.apis = providers.feeds
        services.mail.apis = providers.mail_feeds
        integrations = providers
    upstream = upstream_ports(services)
    integrations = UpstreamIntegrations(upstream, integrations)
    if failpoints is not None:
        integrations = FailpointIntegrations(integrations, failpoints)
    registry = WithUpstreamTools(default_registry())

    def execute(run: Run, tenant_id: UUID, cause: str | None) -> Run | None:
        context = EventContext(correlation_id=str(run.id), causation_id=cause)
        return execute_run(
            run.id, runs.app, registry, integrations, str(tenant_id), loaded=run, context=context
        ).run

    text = settings.llm_mock_answer_text()
    mock = MockAnswer.text(text) if text is not None else None
    guard = ResolvingEndpointGuard(settings.allow_private_model_endpoints)
    answers = (lambda _model: mock) if mock is not None else None
    gateway = LiteLLMGateway(answers, guard=guard)
    return PipelinePorts(
        runs=runs.app,
        identity=services.identity,
        planner=LiteLLMPlanner(gateway=gateway),
        policy=runs.policy,
        # The person's events, approved upstream tools and whether the graph knows them: one
        # read per plan (decision 0042).
        context=GraphContextProvider(
            services.context.search,
            ClockContextProvider(),
            views=PostgresPlanningViews(services.pool, services.context.vault),
        ),
        execute=execute,
        upstream_tools=partial(plan_tools, upstream),
    )


def upstream_ports(services: Services) -> UpstreamPorts:
    """A person's upstream MCP servers (decision 0030): where they are kept, the client that
    talks to them, and where they may be (public addresses unless the operator allows)."""
    settings, pool = services.settings, services.pool
    guard = mcp_guard(settings)
    store = PostgresUpstreamStore(pool)
    authorization = McpServerAuthorization(pool, guard, settings.redirect_uri())
    tokens = services.connections.tokens if services.connections is not None else None
    return UpstreamPorts(
        store, SdkUpstreamClient(), services.identity, guard, authorization, tokens
    )


def mcp_guard(settings: CairnSettings) -> ResolvingEndpointGuard:
    """Where Cairn may connect for a person's MCP server (and what it names): public
    addresses only, unless the operator allows private ones (decision 0030)."""
    return ResolvingEndpointGuard(
        settings.allow_private_mcp_servers,
        what="MCP server",
        setting="CAIRN_ALLOW_PRIVATE_MCP_SERVERS",
        refused=McpServerRefused,
        field="url",
    )
