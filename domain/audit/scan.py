"""The hot loop of verification: lines of an export to leaves, with nothing shared, so that
parts of one export can be scanned in several processes and merged in order.

The lines the exporter writes are read by a pinned pattern (no escapes in the fields the leaf
covers, no other top-level key); any other line is handed back untouched for the JSON parser,
in its place. Both read the same values from a line both accept.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.audit.envelope import SEALED_MARK

_a2b = binascii.a2b_base64
_sha256 = hashlib.sha256
# envelope() of domain/audit/envelope.py with the leaf hash's 0x00 in front, on bytes.
LEAF_HEAD = b"\x00cairn.audit.leaf/1\n%d\n%s\n%s\n%d\n%s\n"
_B64_LEAF = rb'"([A-Za-z0-9+/]{43}=)"'
_PLAIN = rb'"([^"\\\x00-\x1f]*)"'
# A JSON string with escapes, as an unrolled loop (an alternation per character is slow).
_ANY = rb'"[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*"'
_HEADERS = rb"\{(?:" + _ANY + rb":" + _ANY + rb"(?:," + _ANY + rb":" + _ANY + rb")*)?\}"
# An event line in three parts: the fields before the data, the data itself (found with a
# byte search: a character class over a kilobyte of base64 costs more than the hashing), and
# the fields after it. base64 has no quote or backslash, and both readers skip what is not
# base64 in it alike.
_EVENT_HEAD = re.compile(
    rb'\{"kind":"event","seq":([1-9][0-9]{0,15}),"subject":' + _PLAIN + rb',"msg_id":' + _PLAIN
    + rb',"tenant_seq":([1-9][0-9]{0,15}),"leaf":' + _B64_LEAF + rb',"data_b64":"'
).match  # fmt: skip
_EVENT_TAIL = re.compile(rb'","time":' + _ANY + rb',"headers":' + _HEADERS + rb"\}\r?\n?").fullmatch


def EVENT(line: bytes) -> tuple[re.Match[bytes], bytes] | None:  # noqa: N802
    """The event line's head match and its data's base64, if it has the exporter's shape."""
    head = _EVENT_HEAD(line)
    if head is None:
        return None
    start = head.end()
    end = line.find(b'"', start)
    if end < 0 or line.find(b"\\", start, end) >= 0 or _EVENT_TAIL(line, end) is None:
        return None
    return head, line[start:end]


LEAF = re.compile(
    rb'\{"kind":"leaf","seq":([1-9][0-9]{0,15}),"leaf":' + _B64_LEAF + rb"\}\r?\n?"
).fullmatch
_POLICY_SUBJECTS = (b".Run.", b".PolicySet.", b".HouseholdGuardrails.")


@dataclass
class Scan:
    """What a run of lines holds; entries are indexes into `seqs` / `leaves`."""

    seqs: list[int] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)  # as the lines record them
    runs: list[int] = field(default_factory=list)  # entries that do not follow the previous seq
    mismatched: list[tuple[int, bytes]] = field(default_factory=list)  # (entry, computed leaf)
    sealed: list[int] = field(default_factory=list)
    observed: list[tuple[int, str, bytes]] = field(default_factory=list)  # policy-relevant
    events: int = 0
    others: list[tuple[int, bytes]] = field(default_factory=list)  # (entries before it, line)


def scan_lines(lines: Iterable[bytes]) -> Scan:
    scan = Scan()
    seqs, leaves, runs = scan.seqs, scan.leaves, scan.runs
    event, leaf_line, a2b, sha256, head = EVENT, LEAF, _a2b, _sha256, LEAF_HEAD
    previous = -1
    for line in lines:
        found = event(line)
        if found is None:
            match = leaf_line(line)
            if match is None:
                scan.others.append((len(seqs), line))
                continue
            seq = int(match[1])
            if seq != previous + 1:
                runs.append(len(seqs))
            previous = seq
            seqs.append(seq)
            leaves.append(a2b(match[2]))
            continue
        match, encoded = found
        seq, subject, recorded, data = int(match[1]), match[2], a2b(match[5]), a2b(encoded)
        index = len(seqs)
        if seq != previous + 1:
            runs.append(index)
        previous = seq
        seqs.append(seq)
        leaves.append(recorded)
        scan.events += 1
        digest = sha256(data).hexdigest().encode()
        computed = sha256(head % (seq, subject, match[3], int(match[4]), digest)).digest()
        if computed != recorded:
            scan.mismatched.append((index, computed))
        if SEALED_MARK in data:
            scan.sealed.append(index)
        if any(marker in subject for marker in _POLICY_SUBJECTS):
            scan.observed.append((index, subject.decode(), data))
    return scan
