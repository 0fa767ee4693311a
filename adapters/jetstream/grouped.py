"""How group commit (``appends``) sends one group of saves and answers each save's caller.

A group of a few saves of one message each goes as that many single messages, written at once:
each carries its own expected sequence, and JetStream checks, stores and answers each on its
own (one refused save leaves the others stored). Any other group goes as one atomic batch
(all of it stored or none); if the server refuses it, nothing of it was stored and its saves
are sent again, the single-message ones together as single messages and each other one alone,
so that each gets its own answer. Why (decision 0053): nats-server stages every atomic batch of
an R1 file stream in a new store on disk, about ten single messages' CPU and four fsyncs.
"""

from __future__ import annotations

import asyncio

from adapters.jetstream.batches import BatchPublisher
from adapters.jetstream.errors import EventStoreOutcomeUnknown
from adapters.jetstream.queued import QueuedSave

# Up to this many saves of one message each go as single messages rather than one atomic
# batch: measured at capacity, less nats-server CPU per run and no more fsyncs (decision 0053).
MAX_SINGLES = 8


async def send(publisher: BatchPublisher, group: list[QueuedSave], max_singles: int) -> None:
    """Store the group's saves (each all or nothing) and answer each one's caller; raises
    only what leaves every save of the group without an answer."""
    if len(group) == 1:
        await _alone(publisher, group[0])
        return
    singles = [save for save in group if len(save.frames) == 1]
    if len(singles) == len(group) <= max_singles:
        await _each(publisher, singles)
        return
    frames = [frame for save in group for frame in save.frames]
    ack = await publisher.store(group[0].stream, frames)
    if ack.get("error"):
        # One save's check (or id) refused the combined batch, so nothing of it was stored.
        others = [save for save in group if len(save.frames) > 1]
        await asyncio.gather(_each(publisher, singles), *(_alone(publisher, s) for s in others))
        return
    count = ack.get("count", len(frames))
    if count != len(frames):
        raise EventStoreOutcomeUnknown(
            f"JetStream acknowledged {count} messages of an atomic batch of {len(frames)}"
        )
    seq = int(ack["seq"]) - len(frames)
    for save in group:
        seq += len(save.frames)
        save.resolve({"stream": ack.get("stream"), "seq": seq})


async def _each(publisher: BatchPublisher, saves: list[QueuedSave]) -> None:
    """Saves of one message each, each published alone (all in one write), one answer each."""
    if not saves:
        return
    frames = [save.frames[0] for save in saves]
    answers = await publisher.store_each(saves[0].stream, frames)
    for save, answer in zip(saves, answers, strict=True):
        if isinstance(answer, Exception):
            save.fail(answer)
        else:
            save.resolve(answer)


async def _alone(publisher: BatchPublisher, save: QueuedSave) -> None:
    try:
        save.resolve(await publisher.store(save.stream, save.frames))
    except Exception as e:
        save.fail(e)
