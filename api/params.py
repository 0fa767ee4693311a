"""Query parameters shared by the query routes, with the ranges the stores accept (a value
outside them is the caller's fault: 422, never a store error); a position the event store never
handed out is refused at once (400 `position_beyond_store`), not waited for."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Query, Request

from domain.storable import Position, StorableText
from projections.engine.store_head import StoreHead


async def checked_after(
    request: Request,
    after: Annotated[
        Position | None,
        Query(
            description="Wait (up to 2 s) until the view has applied this store position. A "
            "position beyond the store's last is refused at once (400 `position_beyond_store`)."
        ),
    ] = None,
) -> int | None:
    """`after`, once it is known to be a position the store has handed out. `async`, so that a
    position already known costs no thread hop; the store is asked on a worker thread."""
    if after is None:
        return None
    head: StoreHead | None = getattr(request.app.state, "store_head", None)
    if head is not None and not head.known(after):
        await anyio.to_thread.run_sync(head.check, after)
    return after


After = Annotated[int | None, Depends(checked_after)]
Cursor = Annotated[
    StorableText | None, Query(max_length=400, description="`next_cursor` of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=200)]
