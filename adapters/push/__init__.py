"""Push subscriptions (SSE/WebSocket fan-out from one JetStream consumer per process) and the
store reads behind the audit API and export. See docs/push.md and docs/audit.md."""

from adapters.push.audit import AuditFilter, AuditPage, audit_page
from adapters.push.events import PushEvent, StoredMessage
from adapters.push.export import ExportSummary, export_tenant
from adapters.push.hub import Hub, Subscriber
from adapters.push.service import PushService
from adapters.push.session import Frame, PushSession
from adapters.push.settings import PushSettings
from adapters.push.store import RawMessage, StoreReader
from adapters.push.visibility import Visibility, same_tenant
from commands.ports.push import Focus, Viewer

__all__ = [
    "AuditFilter",
    "AuditPage",
    "ExportSummary",
    "Focus",
    "Frame",
    "Hub",
    "PushEvent",
    "PushService",
    "PushSession",
    "PushSettings",
    "RawMessage",
    "StoreReader",
    "StoredMessage",
    "Subscriber",
    "Viewer",
    "Visibility",
    "audit_page",
    "export_tenant",
    "same_tenant",
]
