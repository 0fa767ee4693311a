"""Whether a change of policy text can only narrow what runs without the person.

The rule (docs/decisions/0015): a change narrows when it keeps every policy of the current text
exactly (same @id, same effect, scope and conditions; comments and layout do not matter) and
only adds `forbid` policies. A forbid can only take an outcome down (APPROVE to ESCALATE or
DENY, ESCALATE to DENY), and one that fails to evaluate denies (fail closed), so such a change
never widens anything. Every other change may widen (removing a permit looks narrowing, but
removing a permit that fails to evaluate turns a fail-closed DENY into whatever the rest
permits) and needs the passkey bound to it.
"""

from __future__ import annotations

from adapters.policy.validation import static_policies


def only_narrows(current_text: str, new_text: str) -> bool:
    try:
        current, new = static_policies(current_text), static_policies(new_text)
    except ValueError:
        return False  # a text that no longer parses cannot be compared: treat as widening
    if any(new.get(policy_id) != body for policy_id, body in current.items()):
        return False
    return all(body.get("effect") == "forbid" for pid, body in new.items() if pid not in current)
