"""Provider adapters: Google Calendar and Gmail, Microsoft Graph calendar and mail.

Each adapter speaks its provider's real API shapes (only the base URL differs between a test
and production), asks `commands.ports.connections.ConnectionTokens` for a token before each call
and makes creates idempotent with an id derived from run and step. `ProviderIntegrations` puts
them behind the executor's integration port. docs/integrations-providers.md has the details.
"""

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.outbox import MemoryOutbox, Outbox, PostgresOutbox
from adapters.integrations.providers.router import ProviderAdapter, ProviderIntegrations

__all__ = [
    "MemoryOutbox",
    "Outbox",
    "PostgresOutbox",
    "ProviderAdapter",
    "ProviderClient",
    "ProviderIntegrations",
]
