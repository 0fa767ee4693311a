"""Verify an export (``cairn.audit.export/2``) offline: every leaf against the signed roots.

Fed line by line (so a caller can show progress), then `finish()` names each finding with its
sequence and class: a line whose content no longer gives its leaf is *mutated* (or *reordered*
when it gives the leaf of another sequence), a sequence without a line is *missing* (a
*truncated tail* when every later one is missing too), a second line for a sequence or one past
the last checkpoint is *inserted*, a line after a later one is *reordered*. The leaves are then
hashed up to each checkpoint's size and compared with its signed root.
"""

from __future__ import annotations

import binascii
import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.audit.chain import CheckpointChain
from domain.audit.decisions import DecisionLedger, DecisionReplayer
from domain.audit.envelope import SEALED_MARK
from domain.audit.export_format import FORMAT
from domain.audit.findings import Finding, FindingClass
from domain.audit.merkle import Tree
from domain.audit.note import NoteVerifier
from domain.audit.scan import LEAF_HEAD, Scan, scan_lines

_F = FindingClass
_a2b = binascii.a2b_base64
_sha256 = hashlib.sha256


@dataclass
class Report:
    origin: str = ""
    tenant: str | None = None
    declared_size: int = 0
    events: int = 0
    leaves: int = 0
    sealed: list[int] = field(default_factory=list)  # sequences of events with sealed fields
    checkpoints: int = 0
    cosigned: int = 0
    decisions: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def roots_at(leaves: Sequence[bytes], sizes: Sequence[int]) -> dict[int, bytes]:
    """The root of each given size over a prefix of `leaves`, from one build of the tree."""
    tree = Tree(leaves[: max(sizes, default=0)])
    return {size: tree.root(size) for size in sizes}


class ExportVerifier:
    def __init__(
        self,
        log_keys: Sequence[NoteVerifier],
        witness_keys: Sequence[NoteVerifier] = (),
        *,
        quorum: int = 0,
        replayer: DecisionReplayer | None = None,
    ) -> None:
        self.report = Report()
        self.chain = CheckpointChain("", log_keys, witness_keys, quorum)
        self.decisions = DecisionLedger(replayer)
        self._leaves: list[bytes | None] = []
        self._mismatched: list[tuple[int, bytes]] = []
        self._last_seq = 0
        self._line = 0
        self._started = False

    def _finding(self, kind: FindingClass, detail: str, seq: int | None = None) -> None:
        self.report.findings.append(Finding(kind, detail, seq))

    def feed(self, line: str) -> None:
        self.feed_bytes(line.encode())

    def feed_bytes(self, line: bytes) -> None:
        self.feed_scan(scan_lines([line]))

    def feed_lines(self, lines: Iterable[bytes]) -> None:
        self.feed_scan(scan_lines(lines))

    def feed_scan(self, scan: Scan) -> None:
        """Merge the scan of the next lines (made here or in another process), in order."""
        rejected: set[int] = set()
        done = 0
        for at, line in [*scan.others, (len(scan.seqs), b"")]:
            self._place_entries(scan, done, at, rejected)
            done = at
            if line:
                self._feed_json(line)
        seqs = scan.seqs
        self.report.events += scan.events
        self._line += len(seqs)
        for index, computed in scan.mismatched:
            if index not in rejected:
                self._mismatched.append((seqs[index], computed))
        self.report.sealed.extend(seqs[i] for i in scan.sealed if i not in rejected)
        for index, subject, data in scan.observed:
            if index not in rejected:
                self.decisions.observe(seqs[index], subject, data)

    def _place_entries(self, scan: Scan, start: int, end: int, rejected: set[int]) -> None:
        """Entries [start, end): whole runs of following sequences in one slice where they
        fill empty places after every earlier one; anything else one by one."""
        cuts = [start, *(r for r in scan.runs if start < r < end), end]
        seqs, leaves = scan.seqs, self._leaves
        for a, b in itertools.pairwise(cuts):
            if a == b:
                continue
            first, last = seqs[a], seqs[b - 1]
            fits = first > self._last_seq and last <= len(leaves)
            if fits and leaves[first - 1 : last].count(None) == b - a:
                leaves[first - 1 : last] = scan.leaves[a:b]
                self._last_seq = last
                self.report.leaves += b - a
                continue
            for k in range(a, b):
                if not self._place(seqs[k], scan.leaves[k]):
                    rejected.add(k)

    def _feed_json(self, line: bytes) -> None:
        self._line += 1
        record: Any = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line is a JSON object")
            if not self._started:
                self._header(record)
            elif (kind := record.get("kind")) == "event":
                self._event(
                    record["seq"],
                    str(record["subject"]).encode(),
                    str(record["msg_id"]).encode(),
                    record["tenant_seq"],
                    _a2b(record["leaf"]),
                    _a2b(record["data_b64"]),
                )
            elif kind == "leaf":
                self._place(record["seq"], _a2b(record["leaf"]))
            elif kind == "checkpoint":
                self.chain.add(str(record["note"]), list(record.get("proof", [])))
            else:
                raise ValueError(f"unknown record kind {kind!r}")
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
            seq = record.get("seq") if isinstance(record, dict) else None
            where = seq if isinstance(seq, int) else None
            self._finding(_F.MUTATED, f"line {self._line} does not parse ({exc})", where)

    def _header(self, record: dict[str, Any]) -> None:
        if record.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} export")
        self._started = True
        self.report.origin = self.chain.origin = str(record["origin"])
        self.report.tenant = record.get("tenant")
        self.report.declared_size = int(record["size"])
        self._leaves = [None] * self.report.declared_size

    def _event(
        self,
        seq: int,
        subject: bytes,
        msg_id: bytes,
        tenant_seq: int,
        recorded: bytes,
        data: bytes,
    ) -> None:
        if type(tenant_seq) is not int:
            raise ValueError("a tenant sequence is an integer")
        digest = _sha256(data).hexdigest().encode()
        computed = _sha256(LEAF_HEAD % (seq, subject, msg_id, tenant_seq, digest)).digest()
        self.report.events += 1
        if not self._place(seq, recorded):
            return  # a second line for the sequence: inserted, whatever it holds
        if computed != recorded:
            self._mismatched.append((seq, computed))
        if SEALED_MARK in data:
            self.report.sealed.append(seq)
        if b".Run." in subject or b".PolicySet." in subject or b".HouseholdGuardrails." in subject:
            self.decisions.observe(seq, subject.decode(), data)

    def _place(self, seq: int, leaf: bytes) -> bool:
        if type(seq) is not int or seq < 1 or len(leaf) != 32:
            raise ValueError("a sequence is a positive integer and a leaf 32 bytes")
        self.report.leaves += 1
        if seq < self._last_seq:
            self._finding(_F.REORDERED, f"comes after sequence {self._last_seq}", seq)
        if seq > self._last_seq:
            self._last_seq = seq
        if seq > len(self._leaves):
            self._leaves.extend([None] * (seq - len(self._leaves)))
        if self._leaves[seq - 1] is not None:
            self._finding(_F.INSERTED, "a second line for this sequence", seq)
            return False
        self._leaves[seq - 1] = leaf
        return True

    def finish(self) -> Report:
        report = self.report
        if not self._started:
            self._finding(_F.MALFORMED, "no export header")
            return report
        latest = self.chain.latest
        signed = latest.size if latest is not None else 0
        if latest is None:
            self._finding(_F.BAD_SIGNATURE, "no checkpoint signed by the log key")
        # The header's size covers a tail cut off with its checkpoints.
        size = max(signed, report.declared_size)
        self._check_coverage(size)
        if signed < size and not any(f.kind is _F.TRUNCATED_TAIL for f in report.findings):
            self._finding(
                _F.TRUNCATED_TAIL, f"the checkpoint of size {size} is missing", signed + 1
            )
        self._classify_mismatches()
        self._check_roots()
        report.checkpoints = len(self.chain.accepted)
        report.cosigned = self.chain.cosigned
        report.findings[:0] = self.chain.findings
        report.findings.extend(self.decisions.replay_all())
        report.decisions = self.decisions.count
        return report

    def _check_coverage(self, size: int) -> None:
        for seq in range(size + 1, len(self._leaves) + 1):
            if self._leaves[seq - 1] is not None:
                self._finding(_F.INSERTED, f"past the last checkpoint (size {size})", seq)
        present = self._leaves[:size]
        last_present = max((i + 1 for i, leaf in enumerate(present) if leaf is not None), default=0)
        if last_present < size:
            self._finding(
                _F.TRUNCATED_TAIL,
                f"sequences {last_present + 1}..{size} are missing at the end",
                last_present + 1,
            )
        gap_start = None
        for i, leaf in enumerate(present[:last_present]):
            if leaf is None and gap_start is None:
                gap_start = i + 1
            elif leaf is not None and gap_start is not None:
                span = f"sequences {gap_start}..{i}" if i > gap_start else "this sequence"
                self._finding(_F.MISSING, f"no line for {span}", gap_start)
                gap_start = None

    def _classify_mismatches(self) -> None:
        if not self._mismatched:
            return
        where = {leaf: i + 1 for i, leaf in enumerate(self._leaves) if leaf is not None}
        for seq, computed in self._mismatched:
            other = where.get(computed)
            if other is not None and other != seq:
                self._finding(_F.REORDERED, f"holds the event of sequence {other}", seq)
            else:
                self._finding(_F.MUTATED, "its content does not give its leaf hash", seq)

    def _check_roots(self) -> None:
        complete = next((i for i, leaf in enumerate(self._leaves) if leaf is None), None)
        limit = len(self._leaves) if complete is None else complete
        sizes = [c.size for c in self.chain.accepted if c.size <= limit]
        leaves: list[bytes] = self._leaves[:limit]  # type: ignore[assignment]
        roots = roots_at(leaves, sizes)
        previous = 0
        for checkpoint in sorted(self.chain.accepted, key=lambda c: c.size):
            got = roots.get(checkpoint.size)
            if got is not None and got != checkpoint.root:
                self._finding(
                    _F.MUTATED,
                    f"the leaves up to {checkpoint.size} do not give its signed root: a leaf "
                    f"in {previous + 1}..{checkpoint.size} was changed",
                    checkpoint.size,
                )
            previous = checkpoint.size
