"""A request described as data (`Call`), and the small helpers that build one.

A `Call` says what to send and how to read the answer; the sync and async clients
(client.py, aclient.py) differ only in how they wait; calls.py lists every one the SDK sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

T = TypeVar("T")
Grant = Literal["session", "pair", "access"]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)
    # A command: sent with an Idempotency-Key (this one, or a fresh one), so it is retried.
    command: bool = False
    idempotency_key: str | None = None
    # Sending it again changes nothing (a query, a ceremony's start, a dry run).
    safe: bool = False
    signed_in: bool = True
    # A query of a view that takes `?after=`: read-your-writes.
    consistent: bool = False
    # The answer holds tokens the client then uses.
    grant: Grant | None = None


M = TypeVar("M", bound=BaseModel)


def model_of(cls: type[M]) -> Callable[[Any], M]:
    return cls.model_validate


def dict_of(body: Any) -> dict[str, Any]:
    return dict(body)


def segment(value: str) -> str:
    return quote(str(value), safe="")


def query(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def command_call(
    path: str, parse: Callable[[Any], T], body: Any = None, *, key: str | None, method: str = "POST"
) -> Call[T]:
    return Call(method, path, parse, json=body, command=True, idempotency_key=key)
