"""A provider-side change made once per step, whatever the retries: the outbox flow every
adapter shares (docs/integrations-providers.md).

`once` records the attempt in the outbox under the provider-side reference (begin), answers a
stored receipt without calling anyone, otherwise acts and stores the receipt (done).
`create_once` is the create on top of it: a repeat attempt of a provider without its own
dedupe looks first (`look_first`), a create the provider refuses as a duplicate (409) is read
back under the reference and compared with what this step asked for; only the provider's id
rule, its calls and its compare function differ between Google and Graph, calendar and mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.integrations.providers.outbox import Outbox, OutboxEntry
from commands.ports.integrations import ErrorKind, IntegrationError

Thing = dict[str, Any]


def once(
    outbox: Outbox,
    tenant: str,
    key: str,
    provider: str,
    action: str,
    reference: str,
    act: Callable[[OutboxEntry], Thing],
) -> Thing:
    """`act`'s receipt, stored under the step's key; a later attempt gets it without acting.
    `act` sees the outbox entry: `attempts > 1` means an earlier attempt may have acted."""
    entry = outbox.begin(tenant, key, provider, action, reference)
    if entry.receipt is not None:
        return entry.receipt
    receipt = act(entry)
    outbox.done(tenant, key, receipt)
    return receipt


@dataclass(frozen=True)
class Create:
    """How one provider creates one kind of thing under a reference derived from the key."""

    provider: str
    action: str
    id_rule: Callable[[str], str]  # step key -> provider-side reference (event id, Message-ID)
    post: Callable[[str], Thing | None]  # create under the reference; None: a duplicate (409)
    find: Callable[[str], Thing | None]  # what the provider holds under the reference
    finish: Callable[[Thing, str], Thing]  # (created or found thing, reference) -> receipt
    same: Callable[[Thing], bool] = lambda _thing: True  # is it what this step asked for
    # Look before creating again: the provider would not refuse a second create itself.
    look_first: bool = False


def create_once(outbox: Outbox, tenant: str, key: str, how: Create) -> Thing:
    def act(entry: OutboxEntry) -> Thing:
        reference = entry.reference
        found = how.find(reference) if how.look_first and entry.attempts > 1 else None
        if found is None:
            found = how.post(reference)
        if found is None:
            found = how.find(reference)
            if found is None or not how.same(found):
                raise IntegrationError(
                    ErrorKind.REJECTED,
                    "HTTP 409: another item holds this step's provider-side id",
                    provider=how.provider,
                    action=how.action,
                    status=409,
                )
        return how.finish(found, reference)

    return once(outbox, tenant, key, how.provider, how.action, how.id_rule(key), act)
