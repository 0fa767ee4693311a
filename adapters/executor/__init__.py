"""The executor's adapters: typed action handlers and the HTTP integration client.

See docs/executor.md; the application service is `commands.runs.execute`.
"""

from adapters.executor.handlers import BUILT_IN, default_registry
from adapters.executor.http_client import ROUTES, HttpIntegrations
from adapters.executor.registry import ActionRegistry, Receipt, TypedHandler

__all__ = [
    "BUILT_IN",
    "ROUTES",
    "ActionRegistry",
    "HttpIntegrations",
    "Receipt",
    "TypedHandler",
    "default_registry",
]
