"""The rule for synced mail (domain/context/mail.py): the sender is a person with an address."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.context.extraction import ExtractedFact
from domain.context.mail import ReceivedMail, facts_from_mail, sender_of

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SOURCE = "MailFeed:7c9e6679-7425-40de-944b-e07fc1f90ae7:4"


def mail(sender: str, subject: str = "Your appointment") -> ReceivedMail:
    return ReceivedMail(sender=sender, subject=subject, received_at=WHEN)


def test_a_named_sender_is_a_person_with_the_address_who_emailed_you_then() -> None:
    found = facts_from_mail(mail("Sarah Lee <Sarah@Smile.example>"), SOURCE, {})

    assert found.source_event == SOURCE
    (sarah,) = found.entities
    assert (sarah.name, sarah.kind) == ("Sarah Lee", "person")
    assert sarah.facts == (
        ExtractedFact(predicate="email", value="sarah@smile.example"),
        ExtractedFact(predicate="emailed_you", value="Your appointment", valid_from=WHEN),
    )


def test_an_address_already_known_goes_to_the_entity_holding_it_and_is_not_repeated() -> None:
    known = {"sarah@smile.example": "Dr Sarah"}
    found = facts_from_mail(mail('"Sarah Lee" <sarah@smile.example>'), SOURCE, known)

    (entity,) = found.entities
    assert entity.name == "Dr Sarah"
    assert [f.predicate for f in entity.facts] == ["emailed_you"]


def test_a_sender_without_a_name_is_named_by_the_address() -> None:
    (entity,) = facts_from_mail(mail("billing@shop.example", ""), SOURCE, {}).entities

    assert entity.name == "billing@shop.example"
    assert entity.facts[1] == ExtractedFact(
        predicate="emailed_you", value="an e-mail", valid_from=WHEN
    )


def test_a_sender_without_an_address_teaches_nothing() -> None:
    assert facts_from_mail(mail("Mailer Daemon"), SOURCE, {}).entities == ()
    assert sender_of("undisclosed-recipients:;") == (None, None)


def test_a_display_name_that_is_an_address_is_no_name() -> None:
    assert sender_of('"sarah@smile.example" <sarah@smile.example>') == (
        None,
        "sarah@smile.example",
    )
