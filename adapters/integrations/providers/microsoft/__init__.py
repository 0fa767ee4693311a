"""Microsoft Graph (v1.0) calendar and mail for a person's connected Microsoft account."""

from adapters.integrations.providers.microsoft.adapter import GraphAdapter

__all__ = ["GraphAdapter"]
