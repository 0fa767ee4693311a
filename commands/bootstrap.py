"""The composition root: build every adapter once and hand handlers their ports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import redis
from psycopg_pool import ConnectionPool

from adapters.context.calendar import SyncedCalendar
from adapters.context.embeddings import OfflineEmbedder
from adapters.context.extraction import LiteLLMExtractor
from adapters.context.payloads import PostgresPayloads
from adapters.context.search import ContextSearch
from adapters.executor.handlers import default_registry
from adapters.executor.http_client import HttpIntegrations
from adapters.failpoints import FailpointIntegrations, Failpoints
from adapters.idempotency import IdempotencyStore
from adapters.integrations.oauth.client import OAuthClients, new_code_verifier
from adapters.integrations.oauth.providers import provider_configs
from adapters.integrations.providers.outbox import Outbox, PostgresOutbox, ReachingOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.integrations.states import RedisAuthorizationStates
from adapters.integrations.store import TokenRows
from adapters.integrations.tokens import VaultConnectionTokens
from adapters.integrations.webhooks_store import PostgresFeedStore
from adapters.llm.context import ClockContextProvider, GraphContextProvider
from adapters.llm.endpoints import ResolvingEndpointGuard
from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from adapters.llm.planner import LiteLLMPlanner
from adapters.policy.engine import CedarPolicyEngine
from adapters.postgres.timers import PostgresTimers
from adapters.ratelimit import RedisLoginGuard, RedisRateLimiter
from adapters.tokens import AccessTokens, PostgresSessions, TokenKeys
from adapters.tokens.device_grants import RedisDeviceGrants
from adapters.tokens.recovery_codes import Argon2CodeHasher
from adapters.totp.totp import RedisTotp
from adapters.vault import KeyRing, PostgresVault
from adapters.webauthn import PasskeyRelyingParty, RedisChallengeStore
from commands.context.application import ContextApplication, ContextPorts
from commands.dispatch import Dispatcher, Ports
from commands.identity.context import IdentityApplication, IdentityPorts
from commands.identity.principals import PrincipalCache
from commands.integrations.ports import ConnectionsApplication, ConnectionsPorts
from commands.integrations.records import ConnectionRecords
from commands.integrations.sync import FeedsApplication, FeedSync
from commands.ports.connections import ConnectionTokens
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
    connections = connections_ports(settings, pool, client, vault, identity)
    payloads = PostgresPayloads(pool)
    embedder = OfflineEmbedder()
    context = ContextPorts(
        app=ContextApplication(env=settings.event_store_env()),
        vault=vault,
        payloads=payloads,
        embedder=embedder,
        directory=payloads,
        search=ContextSearch(pool, embedder),
        extractor=LiteLLMExtractor(),
    )
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
        feeds=FeedSync(
            FeedsApplication(env=settings.event_store_env()),
            PostgresFeedStore(pool),
            PostgresTimers(pool),
            vault,
            settings.webhook_base_url,
        ),
        context=context,
    )


def connections_ports(
    settings: CairnSettings,
    pool: ConnectionPool[Any],
    client: redis.Redis,
    vault: PostgresVault,
    identity: IdentityPorts,
) -> ConnectionsPorts:
    """Connected accounts (docs/integrations.md): the token port provider adapters use is
    `connections.tokens`."""
    app = ConnectionsApplication(env=settings.event_store_env())
    oauth = OAuthClients(
        provider_configs(settings.oauth_providers, settings.env), settings.redirect_uri()
    )
    tokens = VaultConnectionTokens(TokenRows(pool), vault, oauth, ConnectionRecords(app, identity))
    return ConnectionsPorts(
        app=app,
        tokens=tokens,
        oauth=oauth,
        states=RedisAuthorizationStates(client, prefix=f"{settings.redis_prefix}:oauth"),
        vault=vault,
        timers=PostgresTimers(pool),
        new_verifier=new_code_verifier,
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
            seal=services.context.vault.seal_personal,
        )
        services.feeds.apis = providers.feeds
        integrations = providers
    if failpoints is not None:
        integrations = FailpointIntegrations(integrations, failpoints)
    registry = default_registry()

    def execute(run: Run, tenant_id: UUID, cause: str | None) -> int | None:
        context = EventContext(correlation_id=str(run.id), causation_id=cause)
        return execute_run(
            run.id, runs.app, registry, integrations, str(tenant_id), loaded=run, context=context
        )

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
        context=GraphContextProvider(
            services.context.search,
            ClockContextProvider(),
            calendar=SyncedCalendar(services.pool, services.context.vault),
        ),
        execute=execute,
    )
