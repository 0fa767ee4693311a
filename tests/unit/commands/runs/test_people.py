"""Given/When/Then: the capabilities a decision is made with are the person's as stored now,
read without replaying them while they have not changed. No I/O (the library's POPO store)."""

from __future__ import annotations

from typing import Any, cast
from uuid import uuid4

import pytest

from commands.identity.context import IdentityApplication, IdentityPorts
from commands.runs.people import People
from domain.errors import NotFound
from domain.identity.user import User

pytestmark = pytest.mark.unit


def identity_of(app: IdentityApplication) -> IdentityPorts:
    unused = cast(Any, None)  # a decision reads the person only
    return IdentityPorts(app, unused, unused, unused, unused, unused, unused)


def signed_up(app: IdentityApplication, *capabilities: str) -> User:
    user = User(uuid4(), uuid4(), "sealed", "sealed", list(capabilities))
    app.save(user)
    return user


def counted_loads(app: IdentityApplication, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    loads: list[object] = []
    get = app.repository.get

    def counted(aggregate_id: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append(aggregate_id)
        return get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(app.repository, "get", counted)
    return loads


def test_an_unchanged_person_is_not_replayed(monkeypatch: pytest.MonkeyPatch) -> None:
    app = IdentityApplication()
    user = signed_up(app, "calendar.write")
    loads = counted_loads(app, monkeypatch)
    people = People()
    for _ in range(3):
        assert people.capabilities(identity_of(app), str(user.id), user.tenant_id) == (
            "calendar.write",
        )
    assert len(loads) == 1


def test_any_change_to_the_person_is_seen_by_the_next_use(monkeypatch: pytest.MonkeyPatch) -> None:
    app = IdentityApplication()
    user = signed_up(app, "calendar.write", "email.send")
    people, identity = People(), identity_of(app)
    people.capabilities(identity, str(user.id), user.tenant_id)
    loads = counted_loads(app, monkeypatch)

    user.revoke("calendar.write", "admin")
    app.save(user)
    assert people.capabilities(identity, str(user.id), user.tenant_id) == ("email.send",)
    user.erase("admin")
    app.save(user)
    people.capabilities(identity, str(user.id), user.tenant_id)
    assert len(loads) == 2


def test_another_tenants_person_is_not_found_even_when_known() -> None:
    app = IdentityApplication()
    user = signed_up(app, "calendar.write")
    people, identity = People(), identity_of(app)
    people.capabilities(identity, str(user.id), user.tenant_id)
    with pytest.raises(NotFound):
        people.capabilities(identity, str(user.id), uuid4())
    with pytest.raises(NotFound):
        people.capabilities(identity, "not-a-uuid", user.tenant_id)


def test_a_full_cache_forgets_the_least_recent_and_stays_right() -> None:
    app = IdentityApplication()
    alice, bob = signed_up(app, "calendar.write"), signed_up(app, "email.send")
    people, identity = People(max_entries=1), identity_of(app)
    for _ in range(2):
        assert people.capabilities(identity, str(alice.id), alice.tenant_id) == ("calendar.write",)
        assert people.capabilities(identity, str(bob.id), bob.tenant_id) == ("email.send",)
    assert len(people) == 1
