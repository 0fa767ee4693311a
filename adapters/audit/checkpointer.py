"""The checkpointer: follows the whole stream in order, one leaf per message, and signs a
checkpoint at most N seconds or M messages after the last one, cosigned by the witnesses and
stored in the stream itself under ``<prefix>._audit.checkpoints``.

It starts from the last stored checkpoint: the stream is read again from sequence 1 and must
give that checkpoint's root at its size, or nothing more is signed. A sequence that does not
follow the previous one (a gap) stops it too: a gap is never signed over.

A checkpoint that not every witness cosigned is followed by another one even when no new
message came (its size then counts the stored checkpoint itself), after a wait that doubles up
to RETRY_CAP_S: a witness that was down cosigns once it is back, without waiting for traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client as NatsConnection

from adapters.audit.witness_client import WitnessClient
from adapters.jetstream import headers as h
from adapters.push.events import StoredMessage
from adapters.push.store import StoreReader
from domain.audit.log import AuditLog, GapInLog, LogMessage, NoteSigner
from domain.audit.note import Checkpoint, SignedNote, parse_note

logger = logging.getLogger("cairn.checkpointer")
CHECKPOINTS = "_audit.checkpoints"
RETRY_CAP_S = 600.0


def checkpoint_subject(prefix: str) -> str:
    return f"{prefix}.{CHECKPOINTS}"


def log_message(message: StoredMessage) -> LogMessage:
    return LogMessage(message.seq, message.subject, message.headers.get(h.MSG_ID, ""), message.data)


@dataclass
class Schedule:
    every_s: float
    every_events: int


class Checkpointer:
    def __init__(
        self,
        nc: NatsConnection,
        reader: StoreReader,
        origin: str,
        signer: NoteSigner,
        witnesses: Sequence[WitnessClient],
        schedule: Schedule,
    ) -> None:
        self.nc = nc
        self.reader = reader
        self.origin = origin
        self.signer = signer
        self.witnesses = list(witnesses)
        self.schedule = schedule
        self.log = AuditLog()
        self.subject = checkpoint_subject(reader.prefix)
        self.signed: Checkpoint | None = None
        self.signed_seq = 0  # the stream sequence of the last checkpoint message
        self.pending = 0  # messages since the last checkpoint, its own message not counted
        self.last_signed_at = time.monotonic()
        # Leaves covered by the last checkpoint every configured witness cosigned, its own
        # message included: a checkpoint is not an event waiting for a witness (0: none yet).
        self.witnessed_size = 0
        self.retry_s = schedule.every_s  # wait before re-asking witnesses that did not cosign

    @property
    def unwitnessed(self) -> int:
        """Messages of the log that no witness-cosigned checkpoint covers yet (a gauge)."""
        return max(0, self.log.size - self.witnessed_size)

    async def start(self) -> None:
        """Rebuild the log up to the stream's end; refuse if it no longer gives the last root."""
        last = await self.reader.last_of(self.subject)
        if last is not None:
            stored = parse_note(last.data.decode())
            self.signed = Checkpoint.parse(stored.text)
            self.signed_seq = last.seq
            if self.witnesses and len(stored.signatures) > len(self.witnesses):
                self.witnessed_size = last.seq
        await self.catch_up()

    async def catch_up(self, *, page: int = 256, in_flight: int = 8) -> int:
        """Append every message stored since; how many. Every sequence is a leaf, so the
        pages ahead are known: several are asked for at once (one at a time, the wait for
        each answer was most of the time)."""
        last = await self.reader.last_sequence()
        everything = f"{self.reader.prefix}.>"
        added = 0
        while self.log.size < last:
            first = self.log.size + 1
            starts = range(first, min(last, first + page * in_flight - 1) + 1, page)
            pages = await asyncio.gather(
                *(
                    self.reader.direct({"seq": s, "batch": page, "next_by_subj": everything})
                    for s in starts
                )
            )
            for start, (messages, _pending) in zip(starts, pages, strict=True):
                for message in messages:
                    if message.seq >= start + page or message.seq > last:
                        break  # the next page's (only after a gap, which append refuses)
                    self.log.append(log_message(message))  # GapInLog on a skipped sequence
                    added += 1
                    if message.subject != self.subject:
                        self.pending += 1
                    self._check_signed_root()
                if self.log.size < min(start + page - 1, last):
                    break  # this page was cut short: the later ones wait for the next round
            if self.log.size < first:
                break  # nothing readable yet past `first`: the next poll asks again
            # A page cut short (a byte limit) is read on from where it stopped; a real gap
            # shows as a later sequence, which append refuses.
        return added

    def _check_signed_root(self) -> None:
        signed = self.signed
        if signed is None or self.log.size != signed.size or signed.size == 0:
            return
        if self.log.tree.root() != signed.root:
            raise GapInLog(
                f"the stream no longer gives the root signed at size {signed.size}: "
                "nothing more is signed",
                {"size": signed.size},
            )

    def due(self) -> bool:
        waited = time.monotonic() - self.last_signed_at
        if self.pending == 0:
            return self._awaits_cosignature() and waited >= self.retry_s
        return self.pending >= self.schedule.every_events or waited >= self.schedule.every_s

    def _awaits_cosignature(self) -> bool:
        # Only once the log holds the last checkpoint's own message: signing again at the same
        # size would store a duplicate, not a new checkpoint.
        last = self.signed_seq
        return bool(self.witnesses) and self.witnessed_size < last <= self.log.size

    async def checkpoint(self) -> SignedNote:
        """Sign the log as it is, have it cosigned, store it; the stored note."""
        note = self.log.checkpoint(self.origin, self.signer)
        cosigned = 0
        for witness in self.witnesses:
            try:
                note = note.with_signatures(await witness.cosign(note, self.log.tree))
                cosigned += 1
            except Exception as exc:  # a witness down delays its cosignature, never the log
                logger.warning(
                    "witness %s did not cosign size %d: %r", witness.url, self.log.size, exc
                )
        ack = await self.nc.request(
            self.subject,
            str(note).encode(),
            timeout=10,
            headers={
                h.EXPECTED_LAST_SUBJECT_SEQ: str(self.signed_seq),
                h.MSG_ID: f"audit-checkpoint-{self.origin}-{self.log.size}",
            },
        )
        reply = json.loads(ack.data or b"{}")
        if "error" in reply:
            raise RuntimeError(f"the checkpoint was not stored: {reply['error']}")
        self.signed = Checkpoint.parse(note.text)
        self.signed_seq = int(reply["seq"])
        if self.witnesses and cosigned == len(self.witnesses):
            # Every sequence is a leaf: the checkpoint's own message is leaf `seq`.
            self.witnessed_size = self.signed_seq
            self.retry_s = self.schedule.every_s
        else:
            self.retry_s = min(self.retry_s * 2, max(RETRY_CAP_S, self.schedule.every_s))
        self.pending = 0
        self.last_signed_at = time.monotonic()
        logger.info("checkpoint of size %d stored at %d", self.log.size, self.signed_seq)
        return note

    async def run(self, stop: asyncio.Event, poll_s: float = 0.2) -> None:
        await self.start()
        while not stop.is_set():
            await self.catch_up()
            if self.due():
                await self.checkpoint()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_s)
