"""The response models every route family shares: the error body, a command's answer (ids
and position), a passkey ceremony to finish, and a keyset-paged list."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from commands.ports.passkeys import CeremonyStart

ItemT = TypeVar("ItemT")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer of Cairn has this shape."""

    error: ErrorDetail


class Accepted(BaseModel):
    """A command's answer (202): the ids it touched, and where its events are."""

    position: int | None = Field(
        description="The store position of the command's last event (null if it recorded "
        "none): pass it as `after` to a query to read your own write."
    )


class Ceremony(BaseModel):
    """Pass `options` to navigator.credentials.create()/get(); send back `ceremony_id`."""

    ceremony_id: str
    options: dict[str, Any]

    @classmethod
    def of(cls, start: CeremonyStart) -> Ceremony:
        return cls(ceremony_id=start.ceremony_id, options=start.options)


# No docstring: a model's docstring is its schema's description, and each page names itself.
class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last
    position: int | None  # the store position the view had applied
