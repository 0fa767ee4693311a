"""What a synced e-mail teaches, by a deterministic rule (no model): its sender is a person with
that address, who e-mailed the person then.

A message from "Sarah Lee <sarah@smile.example>": the person Sarah Lee (or the entity already
holding sarah@smile.example, whatever its name) with the e-mail address (unless known already)
and `emailed_you`, the subject, valid from when it arrived: the last contact is the newest
such fact. A sender with no address in it teaches nothing; a sender with no display name is a
person named by the address itself, as a calendar attendee is (domain/context/synced.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from domain.context.extraction import ExtractedEntity, ExtractedFact, Extraction


@dataclass(frozen=True)
class ReceivedMail:
    """A synced message as the rule reads it: its `From` header, subject and arrival."""

    sender: str
    subject: str
    received_at: datetime


def sender_of(header: str) -> tuple[str | None, str | None]:
    """(display name, lower-case address) of a `From` header; None where there is none."""
    name, address = parseaddr(header.strip())
    address = address.strip().lower()
    if "@" not in address or any(c.isspace() for c in address) or len(address) > 320:
        return None, None
    name = " ".join(name.replace('"', "").split())[:200]
    return (name if name and "@" not in name else None), address


def facts_from_mail(mail: ReceivedMail, source_event: str, known: Mapping[str, str]) -> Extraction:
    """`known`: address -> the name of the person's entity that already has it."""
    name, address = sender_of(mail.sender)
    if address is None:
        return Extraction(source_event=source_event[:200])
    when = mail.received_at
    facts = [] if address in known else [ExtractedFact(predicate="email", value=address)]
    subject = " ".join(mail.subject.split())[:500] or "an e-mail"
    facts.append(ExtractedFact(predicate="emailed_you", value=subject, valid_from=when))
    entity = ExtractedEntity(name=known.get(address) or name or address, facts=tuple(facts))
    return Extraction(source_event=source_event[:200], entities=(entity,))
