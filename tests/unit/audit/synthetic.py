"""A synthetic audit log for the verifier's tests: events of three tenants with internal
messages between them, policy sets and real recorded decisions, checkpoints every 100 messages
cosigned by a witness, written as an export."""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adapters.audit.keys import Ed25519Signer, Ed25519Verifier
from adapters.audit.witness_store import WitnessStore
from adapters.policy.defaults import DEFAULT_POLICIES, HOUSEHOLD_DEFAULTS
from adapters.policy.engine import CedarPolicyEngine
from domain.audit.log import AuditLog, LogMessage, write_export
from domain.audit.note import COSIGNATURE_V1, ED25519
from domain.audit.witness import request_body
from domain.policy.model import AutonomyLevel, Principal, policy_version
from domain.runs.plan import Plan

ORIGIN = "cairn.test/audit-log"
LOG_KEY = Ed25519Signer(ORIGIN, ED25519, bytes(range(32)))
WITNESS_KEY = Ed25519Signer("witness.test/w1", COSIGNATURE_V1, bytes(range(1, 33)))
TENANTS = ("tenant-a", "tenant-b", "tenant-c")
PERSONAL = ("Alice Example", "alice@example.com")  # sealed: never in an export in clear
ENGINE = CedarPolicyEngine()


def log_verifiers() -> list[Ed25519Verifier]:
    return [Ed25519Verifier(LOG_KEY.verifier_key)]


def witness_verifiers() -> list[Ed25519Verifier]:
    return [Ed25519Verifier(WITNESS_KEY.verifier_key)]


def _state(**values: object) -> bytes:
    stamp = {"_type_": "datetime_iso", "_data_": "2026-12-06T05:00:00+00:00"}
    return json.dumps({"timestamp": stamp, **values}, separators=(",", ":")).encode()


def _decision(tenant: str, n: int) -> bytes:
    plan = Plan.model_validate(
        {
            "summary": "remind me",
            "steps": [
                {
                    "step_id": "s1",
                    "action": "reminders.create",
                    "provider": "local",
                    "parameters": {"text": f"call {n}", "due": "2026-12-07T09:00:00+00:00"},
                }
            ],
        }
    )
    principal = Principal(tenant_id=tenant, user_id=f"user-{n % 2}", autonomy=AutonomyLevel(2))
    moment = datetime(2026, 12, 6, 10, n % 60, tzinfo=UTC)
    decision = ENGINE.evaluate(
        plan, principal, ["reminders.write"], lambda: moment, DEFAULT_POLICIES, HOUSEHOLD_DEFAULTS
    )
    record = decision.model_dump(mode="json")
    outcome = record.pop("outcome")
    return _state(outcome=outcome, decision=record)


def sealed_token(subject: str, n: int) -> str:
    blob = base64.urlsafe_b64encode(n.to_bytes(4, "big") * 10).decode().rstrip("=")
    return f"pii:v1:{subject}:{n:016x}:{blob}"


def messages(events: int = 1000) -> list[LogMessage]:
    """`events` events of three tenants, an internal message after every 7th."""
    out: list[LogMessage] = []
    for n in range(events):
        tenant = TENANTS[n % 3]
        kind, data = "Note", _state(text=f"note {n}")
        if n < 3:
            kind = "PolicySet"
            data = _state(text=DEFAULT_POLICIES, policy_version=policy_version(DEFAULT_POLICIES))
        elif n < 6:
            kind = "HouseholdGuardrails"
            data = _state(
                text=HOUSEHOLD_DEFAULTS, policy_version=policy_version(HOUSEHOLD_DEFAULTS)
            )
        elif n % 50 == 10:
            kind, data = "Run", _decision(tenant, n)
        elif tenant == "tenant-c" and n % 25 == 2:
            kind = "User"  # a person whose personal fields are sealed (and later shredded)
            data = _state(display_name_sealed=sealed_token("person-x", n))
        aggregate = uuid.UUID(int=n // 4 + 1)
        msg_id = f"cmd-{n}" if n % 5 == 0 else ""
        out.append(LogMessage(len(out) + 1, f"cairn.{tenant}.{kind}.{aggregate}", msg_id, data))
        if n % 7 == 6:
            out.append(LogMessage(len(out) + 1, f"cairn._commands.cmd-{n}", f"cmd-{n}", b""))
    return out


@dataclass
class Built:
    lines: list[str]
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.lines)

    def write(self, path: Path) -> Path:
        path.write_text(self.text())
        return path

    def index_of(self, seq: int) -> int:
        for i, line in enumerate(self.lines):
            record = json.loads(line)
            if record.get("seq") == seq and record.get("kind") == "event":
                return i
        raise LookupError(seq)

    def edit(self, seq: int, change: Callable[[dict[str, object]], None]) -> None:
        i = self.index_of(seq)
        record = json.loads(self.lines[i])
        change(record)
        self.lines[i] = json.dumps(record, separators=(",", ":")) + "\n"


def checkpoints(
    log_messages: list[LogMessage], witness: WitnessStore | None, every: int = 100
) -> list[str]:
    """Signed notes every `every` messages and at the end, each cosigned through the witness."""
    log = AuditLog()
    notes: list[str] = []
    cosigned = 0
    for message in log_messages:
        log.append(message)
        if log.size % every == 0 or log.size == len(log_messages):
            note = log.checkpoint(ORIGIN, LOG_KEY)
            if witness is not None:
                proof = log.tree.consistency_proof(cosigned, log.size) if cosigned else []
                note = note.with_signatures(
                    witness.add_checkpoint(request_body(cosigned, proof, note))
                )
                cosigned = log.size
            notes.append(str(note))
    return notes


def build(folder: Path, events: int = 1000, tenant: str | None = None) -> Built:
    log_messages = messages(events)
    store = WitnessStore(folder / "witness", {ORIGIN: log_verifiers()}, WITNESS_KEY)
    notes = checkpoints(log_messages, store)
    out = io.StringIO()
    write_export(out, ORIGIN, log_messages, notes, tenant)
    return Built(out.getvalue().splitlines(keepends=True), notes)
