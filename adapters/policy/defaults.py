"""The policies every tenant starts with. Tenants and people edit their own copy later.

docs/policy.md explains each one. Every policy carries a unique `@id`: decisions name the
policies that decided them by it.
"""

from __future__ import annotations

# 1,000.00 in the payment's currency: above it a payment is refused outright.
PAYMENT_HARD_CAP_CENTS = 100_000

DEFAULT_POLICIES = f"""\
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


def default_policies(tenant_id: str) -> str:
    """The text a new tenant starts with. The same for every tenant today; `tenant_id` is where
    per-tenant defaults (a different hard cap, say) will plug in."""
    return DEFAULT_POLICIES
