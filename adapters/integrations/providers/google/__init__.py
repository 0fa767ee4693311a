"""Google Calendar (v3) and Gmail (v1) for a person's connected Google account."""

from adapters.integrations.providers.google.adapter import GoogleAdapter

__all__ = ["GoogleAdapter"]
