"""Values every store and view of Cairn can keep, checked where a caller hands them in.

PostgreSQL refuses a NUL character (U+0000) in `text` and in `jsonb`, no UTF-8 encoder writes a
lone surrogate (U+D800-U+DFFF, which JSON's `\\uD800` escapes let a client send), `jsonb` has
no NaN or infinity, and positions are `bigint` there. The event store takes such a value as
JSON bytes, and then every projector that copies it into a view fails on it: so it is refused
at the boundary (422, with the field that carries it), never stored.

`StorableModel` is the base of every model a caller sends (commands and request bodies): each
of its fields, at any depth, is checked. `StorableText`, `Position` and `UtcTime` are the same
rules for single query and path parameters.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator, BaseModel, SecretStr, field_validator
from pydantic_core import PydanticCustomError

MAX_POSITION = 2**63 - 1  # PostgreSQL bigint; JetStream sequences (uint64) stay below it
MAX_DEPTH = 32  # nesting of JSON objects and arrays: a passkey credential needs 4
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    if "\x00" in text:
        return "contains a NUL character (U+0000)"
    if _SURROGATE.search(text):
        return "contains a lone surrogate (U+D800-U+DFFF), which is not Unicode text"
    return None


def _refuse(where: str, reason: str) -> PydanticCustomError:
    at = f"{where}: " if where else ""
    return PydanticCustomError(
        "unstorable", "{at}{reason}; Cairn cannot store it", {"at": at, "reason": reason}
    )


def _check_leaf(value: Any, where: str) -> None:
    if isinstance(value, str):
        reason = unstorable(value)
        if reason is not None:
            raise _refuse(where, reason)
    elif isinstance(value, float) and not math.isfinite(value):
        raise _refuse(where, f"{value} is not a finite number")
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 63:
        raise _refuse(where, "the number is outside the 64-bit range")
    elif isinstance(value, SecretStr):
        _check_leaf(value.get_secret_value(), where)


def check_storable(value: Any) -> Any:
    """Every string (keys too), number and nesting level of `value`, without recursion (a
    deeply nested value must not exhaust the interpreter's stack)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, BaseModel):
            item = dict(item)
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise _refuse(where, f"nested deeper than {MAX_DEPTH} levels")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in pairs:
                _check_leaf(key, where)
                path = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
                stack.append((inner, path.lstrip("."), depth + 1))
        else:
            _check_leaf(item, where)
    return value


def check_text(value: str) -> str:
    reason = unstorable(value)
    if reason is not None:
        raise _refuse("", reason)
    return value


def to_utc(moment: datetime) -> datetime:
    """The same instant in UTC (a time without a zone is taken as UTC); refused if that
    instant is outside the years 1-9999 that every store can hold."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise PydanticCustomError(
            "time_out_of_range", "the instant is outside the years 1 to 9999 in UTC"
        ) from None


StorableText = Annotated[str, AfterValidator(check_text)]
Position = Annotated[int, Ge(0), Le(MAX_POSITION)]
UtcTime = Annotated[datetime, AfterValidator(to_utc)]


class StorableModel(BaseModel):
    """Base of every model a caller sends: each field, at any depth, must be storable."""

    # Before the field's own validation: what the caller sent, all of it, before any inner
    # validator (which might echo it in an error) sees it.
    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_storable(value)
