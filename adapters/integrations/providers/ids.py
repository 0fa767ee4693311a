"""Provider-side ids derived from a step's idempotency key (itself derived from run and step),
so every attempt of a step, in any process, sends the same one."""

from __future__ import annotations

import base64
import hashlib
import uuid
from email.message import EmailMessage
from typing import Any

MESSAGE_ID_DOMAIN = "cairn.invalid"


def google_event_id(key: str) -> str:
    """A Google Calendar event id: base32hex (`[a-v0-9]`), 52 characters (Google allows
    5-1024), from a hash of the key so it tells nothing about the run."""
    digest = hashlib.sha256(f"cairn-google-event:{key}".encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def graph_transaction_id(key: str) -> str:
    """Graph's `transactionId` for an event create: a UUID from a hash of the key."""
    digest = hashlib.sha256(f"cairn-graph-event:{key}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def message_id(key: str) -> str:
    """The RFC 5322 `Message-ID` of a message a step sends: what a retry searches for."""
    digest = hashlib.sha256(f"cairn-message:{key}".encode()).hexdigest()[:40]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def mime_message(parameters: dict[str, Any], mid: str) -> bytes:
    message = EmailMessage()
    message["To"] = ", ".join(parameters["to"])
    message["Subject"] = parameters.get("subject", "")
    message["Message-ID"] = mid
    message.set_content(parameters.get("body", ""))
    return bytes(message)


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def step_marker(key: str) -> str:
    """What an update leaves on the event it changed (a private extended property): which
    step changed it last, from a hash of the key, so it tells nothing about the run."""
    return hashlib.sha256(f"cairn-step:{key}".encode()).hexdigest()[:32]
