"""Identity commands: imperative pydantic models. None carries tenant, role or owner."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from commands.base import Command

DeviceName = Field(default="unnamed device", min_length=1, max_length=80)


class BeginSignUp(Command):
    """Start creating a tenant and its first admin with a passkey."""

    tenant_slug: str = Field(min_length=2, max_length=63)
    tenant_name: str = Field(min_length=1, max_length=120)
    display_name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=254)


class FinishSignUp(BeginSignUp):
    ceremony_id: str
    credential: dict[str, Any]
    device_name: str = DeviceName


class InviteUser(Command):
    email: str = Field(min_length=3, max_length=254)
    capabilities: list[str] = Field(default_factory=list, max_length=50)
    valid_for_hours: int = Field(default=72, ge=1, le=24 * 30)


class BeginAcceptInvitation(Command):
    invitation_token: str = Field(min_length=16, max_length=200)
    display_name: str = Field(min_length=1, max_length=120)


class FinishAcceptInvitation(BeginAcceptInvitation):
    ceremony_id: str
    credential: dict[str, Any]
    device_name: str = DeviceName


class FinishLogin(Command):
    ceremony_id: str
    credential: dict[str, Any]
    device_id: str | None = Field(default=None, max_length=64)
    device_name: str = DeviceName
    totp_code: str | None = Field(default=None, min_length=6, max_length=8)


class RefreshSession(Command):
    refresh_token: str = Field(min_length=10, max_length=400)


class FinishStepUp(Command):
    ceremony_id: str
    credential: dict[str, Any]


class FinishAddPasskey(Command):
    ceremony_id: str
    credential: dict[str, Any]
    name: str = Field(default="passkey", min_length=1, max_length=80)


UserId = Field(min_length=1, max_length=64)
Capability = Field(min_length=3, max_length=120)


class GrantCapability(Command):
    user_id: str = UserId
    capability: str = Capability


class RevokeCapability(Command):
    user_id: str = UserId
    capability: str = Capability


class RevokeDevice(Command):
    device_id: str = Field(min_length=1, max_length=64)


class RemovePasskey(Command):
    credential_id: str = Field(min_length=1, max_length=1400)


class EnrolTotp(Command):
    """Start TOTP enrolment: a new secret, shown once, pending until confirmed."""


class EraseUser(Command):
    user_id: str = UserId


class LogOut(Command):
    """End the caller's current session."""


class ConfirmTotp(Command):
    code: str = Field(min_length=6, max_length=8)
