"""What no store of Cairn can keep is refused where it comes in, with where it is."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError

from domain.storable import (
    MAX_DEPTH,
    MAX_POSITION,
    Position,
    StorableModel,
    StorableText,
    UtcTime,
    check_storable,
    unstorable,
)

pytestmark = pytest.mark.unit


class Inner(BaseModel):
    note: str


class Body(StorableModel):
    text: str = "ok"
    data: dict[str, Any] = Field(default_factory=dict)
    items: list[str] = Field(default_factory=list)
    secret: SecretStr | None = None
    inner: Inner | None = None


@pytest.mark.parametrize(
    ("text", "reason"),
    [("a\x00b", "NUL"), ("\ud800", "surrogate"), ("x\udfffy", "surrogate"), ("ok", None)],
)
def test_unstorable_names_the_reason(text: str, reason: str | None) -> None:
    found = unstorable(text)
    assert (found is None) if reason is None else (reason in (found or ""))


def test_ordinary_text_is_kept_as_it_is() -> None:
    text = "Café 🏔️ 日本語 \t\n U+FFFF:\uffff"
    assert unstorable(text) is None
    assert Body(text=text).text == text


@pytest.mark.parametrize(
    ("fields", "location", "said"),
    [
        ({"text": "a\x00"}, "text", "NUL"),
        ({"items": ["ok", "\ud83d"]}, "items", "[1]: contains a lone surrogate"),
        ({"data": {"a": {"b": ["\x00"]}}}, "data", "a.b[0]: contains a NUL"),
        ({"data": {"key\x00": 1}}, "data", "NUL"),
        ({"data": {"n": math.nan}}, "data", "n: nan is not a finite number"),
        ({"data": {"n": math.inf}}, "data", "not a finite number"),
        ({"data": {"n": 2**63}}, "data", "64-bit range"),
        ({"secret": "sk-\x00"}, "secret", "NUL"),
        ({"inner": {"note": "\x00"}}, "inner", "note: contains a NUL"),
    ],
)
def test_every_field_is_checked_at_any_depth(
    fields: dict[str, Any], location: str, said: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Body.model_validate(fields)
    (error,) = refused.value.errors()
    assert error["loc"] == (location,) and error["type"] == "unstorable"
    assert said in error["msg"]


def _nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_nesting_is_bounded_without_recursion() -> None:
    Body.model_validate({"data": {"d": _nested(MAX_DEPTH - 1)}})  # the dict is one level
    with pytest.raises(ValidationError, match="nested deeper than"):
        Body.model_validate({"data": {"d": _nested(MAX_DEPTH)}})
    for depth in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(ValueError, match="nested deeper"):
            check_storable(_nested(depth))


def test_storable_text_and_position_types() -> None:
    text = TypeAdapter(StorableText)
    assert text.validate_python("fine") == "fine"
    with pytest.raises(ValidationError, match="NUL"):
        text.validate_python("\x00")
    position = TypeAdapter(Position)
    assert position.validate_python(MAX_POSITION) == MAX_POSITION
    for wrong in (-1, MAX_POSITION + 1, 2**64):
        with pytest.raises(ValidationError):
            position.validate_python(wrong)


def test_times_become_utc_or_are_refused() -> None:
    adapter = TypeAdapter(UtcTime)
    plus_two = timezone(timedelta(hours=2))
    assert adapter.validate_python("2026-01-01T02:00:00+02:00") == datetime(2026, 1, 1, tzinfo=UTC)
    assert adapter.validate_python("2026-01-01T00:00:00").tzinfo is UTC
    assert adapter.validate_python(datetime(2026, 1, 1, 2, tzinfo=plus_two)).hour == 0
    for extreme in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        with pytest.raises(ValidationError, match="years 1 to 9999"):
            adapter.validate_python(extreme)
