"""Everything Cairn is configured with, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from domain.errors import InvalidInput


@dataclass(frozen=True)
class CairnSettings:
    nats_url: str
    database_url: str
    redis_url: str
    nats_monitor_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("cairn")))
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
    # `cairn worker` processes `cairn up` starts (CAIRN_WORKERS), and the runs each of them
    # advances at once (CAIRN_WORKER_CONCURRENCY: threads, as planning waits on a model).
    workers: int = 2
    worker_concurrency: int = 16
    # Seconds a run event stays with a worker that stopped answering (killed, frozen) before
    # another worker gets it (CAIRN_WORKER_ACK_WAIT). Live workers renew it while they work.
    worker_ack_wait_s: float = 30.0
    # A file whose text every model call answers with, through litellm's mock response
    # (CAIRN_LLM_MOCK_ANSWER_FILE): for demos, tests and benchmarks without a model provider.
    # Never set in production.
    llm_mock_answer_file: Path | None = None
    # A key prefix for Redis, so several Cairns (or tests) can share one server.
    redis_prefix: str = "cairn"
    # How long an API process may answer "this session is live" without asking PostgreSQL and
    # the event store again (decision 0010): the longest a revocation made elsewhere can go
    # unnoticed if its event never reaches this process. 0 checks on every request.
    auth_cache_s: float = 5.0
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CairnSettings:
        env = dict(os.environ if env is None else env)
        required = ("CAIRN_NATS_URL", "CAIRN_DATABASE_URL", "CAIRN_REDIS_URL")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise InvalidInput(
                f"missing configuration: {', '.join(missing)} (or start Cairn with `cairn up`)"
            )
        provider_urls = dict(
            item.split("=", 1)
            for item in env.get("CAIRN_PROVIDER_URLS", "").split(",")
            if "=" in item
        )
        origins = tuple(o.strip() for o in env.get("CAIRN_ORIGINS", "").split(",") if o.strip())
        return cls(
            nats_url=env["CAIRN_NATS_URL"],
            database_url=env["CAIRN_DATABASE_URL"],
            redis_url=env["CAIRN_REDIS_URL"],
            nats_monitor_url=env.get("CAIRN_NATS_MONITOR_URL") or None,
            data_dir=Path(env.get("CAIRN_DATA_DIR") or platformdirs.user_data_dir("cairn")),
            stream=env.get("CAIRN_STREAM", "cairn_events"),
            subject_prefix=env.get("CAIRN_SUBJECT_PREFIX", "cairn"),
            nats_replicas=int(env.get("CAIRN_NATS_REPLICAS", "1")),
            rp_id=env.get("CAIRN_RP_ID", "localhost"),
            rp_name=env.get("CAIRN_RP_NAME", "Cairn"),
            origins=origins or ("http://localhost:8000",),
            redis_prefix=env.get("CAIRN_REDIS_PREFIX", "cairn"),
            passkey_ttl_s=int(env.get("CAIRN_PASSKEY_TTL_S", "120")),
            workers=_count(env, "CAIRN_WORKERS", 2, minimum=0),
            worker_concurrency=_count(env, "CAIRN_WORKER_CONCURRENCY", 16, minimum=1),
            worker_ack_wait_s=float(_count(env, "CAIRN_WORKER_ACK_WAIT", 30, minimum=1)),
            llm_mock_answer_file=Path(env["CAIRN_LLM_MOCK_ANSWER_FILE"])
            if env.get("CAIRN_LLM_MOCK_ANSWER_FILE")
            else None,
            auth_cache_s=_auth_cache_s(env.get("CAIRN_AUTH_CACHE_S", "5")),
            provider_urls={k.strip(): v.strip() for k, v in provider_urls.items()},
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
            "CAIRN_WORKERS": str(self.workers),
            "CAIRN_WORKER_CONCURRENCY": str(self.worker_concurrency),
            "CAIRN_WORKER_ACK_WAIT": str(int(self.worker_ack_wait_s)),
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


def _count(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}, not {value}")
    return value


def _auth_cache_s(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise InvalidInput(f"CAIRN_AUTH_CACHE_S must be 0..60 seconds, not {text!r}")
    return seconds
