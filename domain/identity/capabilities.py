"""Capabilities: what a user may do, e.g. `calendar.write`, `email.send`, `payments.up_to:50`.

A capability is a dotted name with an optional numeric limit after a colon. Holding
`payments.up_to:50` allows `payments.up_to` for amounts up to 50.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.errors import Forbidden, InvalidInput

_SYNTAX = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
TENANT_ADMIN = "tenant.admin"
AUDIT_READ = "audit.read"


@dataclass(frozen=True, order=True)
class Capability:
    name: str
    limit: Decimal | None = None

    @classmethod
    def parse(cls, text: str) -> Capability:
        name, _, raw_limit = text.strip().partition(":")
        if not _SYNTAX.match(name):
            raise InvalidInput(
                f"capability {text!r} is not a dotted lowercase name like 'calendar.write'",
                {"capability": text},
            )
        if not raw_limit:
            return cls(name)
        try:
            limit = Decimal(raw_limit)
        except InvalidOperation:
            limit = Decimal("NaN")
        if not limit.is_finite() or limit < 0:
            raise InvalidInput(
                f"capability {text!r} has a limit that is not a non-negative number",
                {"capability": text},
            )
        return cls(name, limit)

    def __str__(self) -> str:
        return self.name if self.limit is None else f"{self.name}:{self.limit}"


def holds(held: Iterable[str], name: str, amount: Decimal | None = None) -> bool:
    """True if any held capability allows `name`.

    A limited capability allows only a known amount within its limit: without an amount it
    allows nothing, so a missing amount can never widen what is allowed.
    """
    for text in held:
        capability = Capability.parse(text)
        if capability.name != name:
            continue
        if capability.limit is None:
            return True
        if amount is not None and amount <= capability.limit:
            return True
    return False


class AuditForbidden(Forbidden):
    code = "audit_forbidden"


def check_may_read_audit(held: Iterable[str], own_tenant: str, asked_tenant: str | None) -> None:
    """The audit trail is read within one's own tenant, with `audit.read` or `tenant.admin`."""
    if asked_tenant is not None and asked_tenant != own_tenant:
        raise AuditForbidden("audit queries cover your own tenant only", {"tenant": asked_tenant})
    held = tuple(held)
    if not (holds(held, AUDIT_READ) or holds(held, TENANT_ADMIN)):
        raise AuditForbidden(
            f"reading the audit trail needs the capability {AUDIT_READ} or {TENANT_ADMIN}",
            {"required": [AUDIT_READ, TENANT_ADMIN]},
        )
