"""Query parameters shared by the query routes, with the ranges the stores accept (a value
outside them is the caller's fault: 422, never a store error)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from domain.storable import Position, StorableText

After = Annotated[
    Position | None,
    Query(description="Wait (up to 2 s) until the view has applied this store position."),
]
Cursor = Annotated[
    StorableText | None, Query(max_length=400, description="`next_cursor` of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=200)]
