"""Synced mail becomes knowledge, end to end with the Gmail-shaped fake: a message from
"Sarah Lee <sarah@smile.example>" synced from the inbox makes the worker's learner record Sarah
as a person with that address who e-mailed the person (no model), found by
`GET /v1/context/search`; a redelivered event adds nothing; erasing the person leaves nothing
of it readable in any table or sealed copy."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.integrations.providers import MemoryOutbox
from adapters.integrations.providers.router import connected_providers
from adapters.postgres.timers import PostgresTimers
from commands.context.mail_learning import mail_memory_id
from commands.ports.vault import ERASED
from commands.settings import CairnSettings
from domain.context.memory import Memory
from tests.e2e.context.helpers import eventually, first_entity, redelivery_teaches_nothing
from tests.e2e.context.rebuilds import tables_holding
from tests.support.connection_tokens import FixedTokens
from tests.support.fake_gmail import PUSH_ACCOUNT, FakeGoogleMail
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e

TOKEN = "ya29.mail-knowledge-3f9a"
TOPIC = "projects/cairn-test/topics/gmail"


@pytest.fixture
def gmail() -> Iterator[FakeGoogleMail]:
    fake = FakeGoogleMail({TOKEN})
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def cairn_settings(cairn_settings: CairnSettings, gmail: FakeGoogleMail) -> CairnSettings:
    return dataclasses.replace(
        cairn_settings,
        webhook_base_url="http://testserver",
        gmail_push_service_account=PUSH_ACCOUNT,
        provider_urls={**cairn_settings.provider_urls, "google": gmail.base_url},
    )


def test_a_synced_message_teaches_its_sender_and_erasure_leaves_nothing(
    cairn: Cairn, cairn_settings: CairnSettings, gmail: FakeGoogleMail
) -> None:
    ada = cairn.sign_up("ctxmail")
    tenant, person = ada.session["tenant_id"], ada.session["user_id"]
    mail = cairn.services.mail
    routed = connected_providers(
        {"google": gmail.base_url},
        FixedTokens({"google": [TOKEN]}),
        MemoryOutbox(),
        gmail_topic=TOPIC,
    )
    mail.apis = routed.mail_feeds
    gmail.receive("Sarah Lee <sarah@smile.example>", "Running late", "see you at ten", push=False)
    feed_id = mail.watch(tenant, person, "google")
    PostgresTimers(cairn.services.pool).fire_due(mail.clock(), mail.on_timer)  # or the worker

    sarah = eventually(lambda: first_entity(cairn, ada, "Sarah"))
    assert sarah["name"] == "Sarah Lee" and sarah["kind"] == "person"
    facts = {(f["predicate"], f["value"]) for f in sarah["facts"]}
    assert {("email", "sarah@smile.example"), ("emailed_you", "Running late")} <= facts

    # A redelivered MailSynced teaches nothing more.
    feed: Any = mail.app.repository.get(feed_id)
    (message_id,) = feed.messages
    memory_id = mail_memory_id(tenant, feed_id, message_id)
    redelivery_teaches_nothing(cairn, mail.app, feed_id, "MailSynced", memory_id)

    erased = cairn.client.post(f"/v1/users/{person}/erase", headers=ada.headers)
    assert erased.status_code == 202, erased.text
    url = cairn_settings.database_url
    for fragment in ("smile.example", "Sarah", "Running late"):
        eventually(lambda: not tables_holding(url, fragment))  # noqa: B023 (awaited here)
    memory: Any = cairn.services.context.app.repository.get(memory_id)
    assert isinstance(memory, Memory) and memory.forgotten
    vault = cairn.services.context.vault
    assert vault.open_personal(tenant, memory.text_sealed, "memory_text") is ERASED
