"""The Cedar schema policies are validated against, generated from the action catalogue.

One Cedar action per catalogue action (`Action::"payments.send"`). The mode a step would run in
is a context attribute (`context.mode`), not a second action: a permit without a mode condition
then allows both modes, and a forbid on `context.mode == "autonomous"` turns an approval into an
escalation, which keeps the common policies short.

Amounts are integer hundredths of the currency unit (`amount_cents: Long`), not Cedar's
`decimal` extension: the catalogue allows at most two decimal places, so the conversion is
exact, and policies can use plain `<` / `>` instead of `.lessThan(...)`.
"""

from __future__ import annotations

import hashlib

from domain.policy.inputs import RESOURCE_TYPES, UPSTREAM_RESOURCE_TYPE
from domain.runs.actions import CATALOGUE, UPSTREAM_ACTION

_ENTITIES = """\
// Who asks: a person of a tenant, and optionally the device the intent came from.
entity Tenant;
entity User in [Tenant] {
  // Capabilities exactly as held, e.g. "calendar.write", "payments.up_to:50".
  capabilities: Set<String>,
};
entity Device in [User];

// What a step acts on; the entity id is the provider, e.g. Calendar::"google".
entity {resource_types};
"""

# Every tool of a person's upstream MCP servers is decided as the one action `mcp.call` on an
# entity of its own (decision 0035): Cedar actions carry no attributes, entities do.
_UPSTREAM = f"""\
// A tool of an upstream MCP server; the id is "<server id>/<tool name>". The hints are what
// the upstream says of its own tool (untrusted): narrow with them, never permit on them alone.
entity {UPSTREAM_RESOURCE_TYPE} {{
  server_id: String,
  server_name: String,
  tool: String,
  approval: String,           // "approved", "pending" or "quarantined"
  hash: String,               // sha256 of the tool's name, description and input schema
  read_only_hint: Bool,
  destructive_hint: Bool,
  idempotent_hint: Bool,
  open_world_hint: Bool,
}};
action "{UPSTREAM_ACTION}" appliesTo {{
  principal: [User],
  resource: [{UPSTREAM_RESOURCE_TYPE}],
  context: StepContext,
}};
"""

_COMMON_CONTEXT = """\
  mode: String,               // "autonomous" or "with_approval"
  autonomy: Long,             // 1 low, 2 medium, 3 high
  local_hour: Long,           // 0..23, the person's wall clock when the plan was decided
  local_weekday: Long,        // 1 Monday .. 7 Sunday
  holds_capability: Bool,     // the person holds the action's capability (within its limit)
  recipients: Set<String>,    // lowercased
  recipient_domains: Set<String>,
  recipient_count: Long,
  device?: Device,            // absent when no device asked (e.g. a schedule)
"""

_AMOUNT_CONTEXT = """\
  amount_cents: Long,         // hundredths of the currency unit
  currency: String,           // ISO 4217, e.g. "EUR"
"""


def _schema_text() -> str:
    types = ", ".join(sorted(set(RESOURCE_TYPES.values())))
    parts = [
        _ENTITIES.replace("{resource_types}", types),
        f"type StepContext = {{\n{_COMMON_CONTEXT}}};\n",
        f"type AmountContext = {{\n{_COMMON_CONTEXT}{_AMOUNT_CONTEXT}}};\n",
    ]
    for name in sorted(CATALOGUE):
        spec = CATALOGUE[name]
        context = "AmountContext" if spec.amount_field else "StepContext"
        parts.append(
            f'action "{name}" appliesTo {{\n'
            f"  principal: [User],\n"
            f"  resource: [{RESOURCE_TYPES[name]}],\n"
            f"  context: {context},\n"
            f"}};"
        )
    parts.append(_UPSTREAM)
    return "\n".join(parts)


SCHEMA_TEXT = _schema_text()
SCHEMA_VERSION = hashlib.sha256(SCHEMA_TEXT.encode()).hexdigest()
