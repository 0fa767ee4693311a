"""The attendees a provider adapter reads from a synced event: "Name <address>" for each but
the person, whose own entry (Google's `self`) is left out; entries without an address too."""

from __future__ import annotations

from adapters.integrations.providers.google.feed import _item as google_item
from adapters.integrations.providers.microsoft.feed import _item as graph_item


def test_google_attendees_leave_out_the_person_and_entries_without_an_address() -> None:
    item = google_item(
        {
            "id": "ext1",
            "etag": '"3"',
            "attendees": [
                {"email": "ada@home.example", "self": True},
                {"email": "sarah@smile.example", "displayName": "Sarah Lee"},
                {"email": "bob@acme.example"},
                {"displayName": "No Address"},
            ],
        }
    )

    assert item.attendees == ("Sarah Lee <sarah@smile.example>", "<bob@acme.example>")


def test_graph_attendees_are_read_from_their_email_address() -> None:
    item = graph_item(
        {
            "id": "AAMk1",
            "attendees": [
                {"emailAddress": {"name": "Sarah Lee", "address": "sarah@smile.example"}},
                {"emailAddress": {"name": "Room 4"}},
            ],
        }
    )

    assert item.attendees == ("Sarah Lee <sarah@smile.example>",)
    assert google_item({"id": "ext2"}).attendees == ()
