"""The policies every tenant starts with: household guardrails and each person's own set.

docs/policy.md explains each one. Every policy carries a unique `@id`: decisions name the
policies that decided them by it.
"""

from __future__ import annotations

# 1,000.00 in the payment's currency: above it a payment is refused outright.
PAYMENT_HARD_CAP_CENTS = 100_000

# The person layer's defaults before the household layer existed (decision 0015): decisions
# recorded then name this text's version and replay against it. Never edit it.
PERSON_DEFAULTS_BEFORE_HOUSEHOLD = f"""\
// Cairn default policies. Each step is evaluated twice: with context.mode == "autonomous"
// and with context.mode == "with_approval". APPROVE if autonomous is permitted, ESCALATE if
// only with_approval is, DENY otherwise. Nothing permitted is denied; forbid beats permit.

@id("notes.autonomous")
permit (principal, action == Action::"notes.create", resource);

@id("reminders.autonomous")
permit (principal, action == Action::"reminders.create", resource);

@id("calendar.autonomous-with-capability")
permit (principal, action == Action::"calendar.create_event", resource)
when {{ context.holds_capability }};

@id("calendar.with-approval")
permit (principal, action == Action::"calendar.create_event", resource)
when {{ context.mode == "with_approval" }};

@id("email.autonomous-at-high-autonomy")
permit (principal, action == Action::"email.send", resource)
when {{ context.holds_capability && context.autonomy >= 3 }};

@id("email.with-approval")
permit (principal, action == Action::"email.send", resource)
when {{ context.mode == "with_approval" }};

// Mass mailing always goes past the person, whatever the autonomy level.
@id("email.no-autonomous-bulk")
forbid (principal, action == Action::"email.send", resource)
when {{ context.mode == "autonomous" && context.recipient_count > 10 }};

// `holds_capability` is true only for an amount within the person's payments.up_to limit.
@id("payments.autonomous-within-limit")
permit (principal, action == Action::"payments.send", resource)
when {{ context.holds_capability }};

@id("payments.with-approval")
permit (principal, action == Action::"payments.send", resource)
when {{ context.mode == "with_approval" }};

@id("payments.hard-cap")
forbid (principal, action == Action::"payments.send", resource)
when {{ context.amount_cents > {PAYMENT_HARD_CAP_CENTS} }};

// At night nobody watches: payments wait for the person's approval instead of running alone.
@id("payments.not-autonomous-at-night")
forbid (principal, action == Action::"payments.send", resource)
when {{
  context.mode == "autonomous" && (context.local_hour >= 22 || context.local_hour < 7)
}};

// A limit of 50 means something else in every currency: alone only in the major ones.
@id("payments.autonomous-only-in-major-currencies")
forbid (principal, action == Action::"payments.send", resource)
when {{
  context.mode == "autonomous" &&
  !(["EUR", "USD", "GBP", "CHF"].contains(context.currency))
}};
"""

# The person's defaults before the provider actions (update, delete, free/busy, draft, search)
# joined the catalogue: decisions recorded then name this text's version. Never edit it.
PERSON_DEFAULTS_BEFORE_PROVIDER_ACTIONS = """\
// A person's default policies. Each step is evaluated twice: context.mode == "autonomous"
// and context.mode == "with_approval". APPROVE if autonomous is permitted, ESCALATE if
// only with_approval is, DENY otherwise. Nothing permitted is denied; forbid beats permit.
// The household's guardrails (hard cap, blocked recipients, lost devices) apply as well.

@id("notes.autonomous")
permit (principal, action == Action::"notes.create", resource);

@id("reminders.autonomous")
permit (principal, action == Action::"reminders.create", resource);

@id("calendar.autonomous-with-capability")
permit (principal, action == Action::"calendar.create_event", resource)
when { context.holds_capability };

@id("calendar.with-approval")
permit (principal, action == Action::"calendar.create_event", resource)
when { context.mode == "with_approval" };

@id("email.autonomous-at-high-autonomy")
permit (principal, action == Action::"email.send", resource)
when { context.holds_capability && context.autonomy >= 3 };

@id("email.with-approval")
permit (principal, action == Action::"email.send", resource)
when { context.mode == "with_approval" };

// Mass mailing always goes past the person, whatever the autonomy level.
@id("email.no-autonomous-bulk")
forbid (principal, action == Action::"email.send", resource)
when { context.mode == "autonomous" && context.recipient_count > 10 };

// `holds_capability` is true only for an amount within the person's payments.up_to limit.
@id("payments.autonomous-within-limit")
permit (principal, action == Action::"payments.send", resource)
when { context.holds_capability };

@id("payments.with-approval")
permit (principal, action == Action::"payments.send", resource)
when { context.mode == "with_approval" };

// At night nobody watches: payments wait for the person's approval instead of running alone.
@id("payments.not-autonomous-at-night")
forbid (principal, action == Action::"payments.send", resource)
when {
  context.mode == "autonomous" && (context.local_hour >= 22 || context.local_hour < 7)
};

// A limit of 50 means something else in every currency: alone only in the major ones.
@id("payments.autonomous-only-in-major-currencies")
forbid (principal, action == Action::"payments.send", resource)
when {
  context.mode == "autonomous" &&
  !(["EUR", "USD", "GBP", "CHF"].contains(context.currency))
};

// A tool of your upstream MCP servers runs only after you approve the plan, and only while
// the tool is as you approved it (decision 0035). To let one tool run alone, add a permit:
//   permit (principal, action == Action::"mcp.call", resource) when {
//     resource.server_id == "<server id>" && resource.tool == "<tool>" &&
//     resource.approval == "approved" };
@id("mcp.with-approval")
permit (principal, action == Action::"mcp.call", resource)
when { context.mode == "with_approval" && resource.approval == "approved" };
"""

# Reads and drafts change nothing anyone else sees: alone. Changing or cancelling an event
# someone else may rely on: with the person's approval, until their own policies say otherwise.
_PROVIDER_ACTIONS = """
// Reading one's own calendar or mail changes nothing: alone. (To be asked first, add a forbid
// on context.mode == "autonomous" for the action.)
@id("calendar.free-busy-autonomous")
permit (principal, action == Action::"calendar.free_busy", resource);

@id("email.search-autonomous")
permit (principal, action == Action::"email.search", resource);

// A draft waits in the person's mailbox until they send it: alone, like a note.
@id("email.draft-autonomous")
permit (principal, action == Action::"email.draft", resource);

// Moving or cancelling an existing event changes other people's plans: the person approves.
@id("calendar.change-with-approval")
permit (
  principal,
  action in [Action::"calendar.update_event", Action::"calendar.delete_event"],
  resource
)
when { context.mode == "with_approval" };
"""

PERSON_DEFAULTS = PERSON_DEFAULTS_BEFORE_PROVIDER_ACTIONS + _PROVIDER_ACTIONS

DEFAULT_POLICIES = PERSON_DEFAULTS

# The household's defaults before the provider actions joined the catalogue (decisions recorded
# then name this text's version). Never edit it.
HOUSEHOLD_DEFAULTS_BEFORE_PROVIDER_ACTIONS = f"""\
// Household guardrails: forbid rules only, each @id starting with "household.". They apply to
// every member on top of their own policies: a forbid here wins over any permit there, and a
// forbid on context.mode == "autonomous" keeps an action waiting for the person's approval.

@id("household.payments-hard-cap")
forbid (principal, action == Action::"payments.send", resource)
when {{ context.amount_cents > {PAYMENT_HARD_CAP_CENTS} }};

// Add the addresses and domains nobody in the household may pay or write to. The ".invalid"
// entries are placeholders (RFC 2606: they match no real address).
@id("household.blocked-recipients")
forbid (
  principal,
  action in [Action::"email.send", Action::"payments.send", Action::"calendar.create_event"],
  resource
)
when {{
  context.recipients.containsAny(["blocked@blocked.invalid"]) ||
  context.recipient_domains.containsAny(["blocked.invalid"])
}};

// A device reported lost asks for nothing any more, even before its sessions are revoked.
@id("household.lost-devices")
forbid (principal, action, resource)
when {{ context has device && context.device in [Device::"lost.invalid"] }};
"""


# An update can invite people too: the blocked recipients cover it.
_BLOCKED_ACTIONS_BEFORE = 'Action::"calendar.create_event"]'
_BLOCKED_ACTIONS = 'Action::"calendar.create_event",\n    Action::"calendar.update_event"]'
HOUSEHOLD_DEFAULTS = HOUSEHOLD_DEFAULTS_BEFORE_PROVIDER_ACTIONS.replace(
    _BLOCKED_ACTIONS_BEFORE, _BLOCKED_ACTIONS
)
assert HOUSEHOLD_DEFAULTS != HOUSEHOLD_DEFAULTS_BEFORE_PROVIDER_ACTIONS


def default_policies(tenant_id: str) -> str:
    """A person's text until they change it. The same for every tenant today; `tenant_id` is
    where per-tenant defaults will plug in."""
    return PERSON_DEFAULTS


def default_household(tenant_id: str) -> str:
    """The household guardrails a tenant starts with (a different hard cap, say, later)."""
    return HOUSEHOLD_DEFAULTS
