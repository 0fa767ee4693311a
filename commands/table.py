"""The table of every command Cairn accepts and the handler that carries it out.

Starting a passkey ceremony (sign-up, login, step-up, another passkey, an approval) is not in
it: a ceremony start records nothing, it hands the client a challenge to sign.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.base import Command
from commands.context import extract, forget, notes
from commands.dispatch import Handler
from commands.identity import account, device, enrolment, login, recovery
from commands.identity.models import (
    ConfirmTotp,
    EnrolTotp,
    EraseUser,
    FinishAcceptInvitation,
    FinishAddPasskey,
    FinishLogin,
    FinishSignUp,
    FinishStepUp,
    GrantCapability,
    InviteUser,
    LogOut,
    RefreshSession,
    RemovePasskey,
    RevokeCapability,
    RevokeDevice,
)
from commands.integrations import connect
from commands.mcp import invoke
from commands.runs import approvals, intents, policies, provider_keys

HANDLERS: Mapping[type[Command], Handler] = {
    # Identity: enrolment and sessions
    FinishSignUp: enrolment.finish_sign_up,
    InviteUser: enrolment.invite_user,
    FinishAcceptInvitation: enrolment.finish_accept_invitation,
    FinishLogin: login.finish_login,
    RefreshSession: login.refresh_session,
    FinishStepUp: login.finish_step_up,
    LogOut: login.log_out,
    # Identity: devices signed in with the device authorization grant (RFC 8628)
    device.ApproveDeviceCode: device.approve_device_code,
    device.DenyDeviceCode: device.deny_device_code,
    device.RedeemDeviceCode: device.redeem_device_code,
    # Identity: one's account, and admins' changes to others'
    RevokeDevice: account.revoke_device,
    FinishAddPasskey: account.finish_add_passkey,
    RemovePasskey: account.remove_passkey,
    GrantCapability: account.grant_capability,
    RevokeCapability: account.revoke_capability,
    EnrolTotp: account.enrol_totp,
    ConfirmTotp: account.confirm_totp,
    EraseUser: account.erase_user,
    # Identity: recovery codes (decision 0022)
    recovery.RegenerateRecoveryCodes: recovery.regenerate_recovery_codes,
    recovery.FinishRecovery: recovery.finish_recovery,
    # Runs
    intents.SubmitIntent: intents.submit_intent,
    approvals.ApproveEscalation: approvals.approve_escalation,
    approvals.DenyEscalation: approvals.deny_escalation,
    approvals.CancelRun: approvals.cancel_run,
    policies.ChangePolicies: policies.change_policies,
    policies.ChangeGuardrails: policies.change_guardrails,
    provider_keys.SetProviderKey: provider_keys.set_provider_key,
    # Connected accounts
    connect.ConnectAccount: connect.connect_account,
    connect.FinishConnect: connect.finish_connect,
    connect.DisconnectAccount: connect.disconnect_account,
    # MCP: an action tool call is a run whose plan is that action (commands/mcp/invoke.py)
    invoke.InvokeAction: invoke.invoke_action,
    # Context graph
    notes.NoteMemory: notes.note_memory,
    notes.CorrectMemory: notes.correct_memory,
    notes.RecordSyncedCalendarEvent: notes.record_synced_calendar_event,
    forget.ForgetMemory: forget.forget_memory,
    forget.MergeEntities: forget.merge_entities,
    extract.ExtractMemory: extract.extract_memory,
}
