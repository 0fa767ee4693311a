"""Given / When / Then for command handlers, through the one dispatch, all in memory.

Given: people and runs that exist (made with the same commands, or recorded as events).
When: one command, dispatched as the API would, with a caller and an optional command id.
Then: the events that command recorded, each with the context it was saved under, and its
result or the error it was refused with.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from commands.base import Caller, Command, CommandResult, Issued
from commands.identity import enrolment
from commands.identity.bound_changes import ChangeApproval
from commands.identity.models import (
    BeginAcceptInvitation,
    BeginSignUp,
    FinishAcceptInvitation,
    FinishSignUp,
    InviteUser,
)
from commands.runs.approvals import begin_approval
from domain.errors import DomainError
from domain.event_context import EventContext
from domain.runs.plan import Plan
from domain.runs.run import Run
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.unit.commands.fakes import InMemory


@dataclass
class Person:
    authenticator: SoftwareAuthenticator
    tenant_id: uuid.UUID
    user_id: str
    device_id: str
    session_id: str
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class Saved:
    """One save: the events it recorded (``Aggregate.Event``) and its event context."""

    events: list[str]
    context: EventContext | None


def payment(amount: str) -> Plan:
    return Plan.model_validate(
        {
            "summary": "Pay Bob",
            "steps": [
                {
                    "step_id": "s1",
                    "action": "payments.send",
                    "provider": "bank",
                    "parameters": {"recipient": "bob", "amount": amount, "currency": "EUR"},
                }
            ],
        }
    )


class Scenario:
    def __init__(self) -> None:
        self.memory = InMemory.build()
        self.ports = self.memory.ports
        self._saves: list[Saved] | None = None
        for app in (self.ports.identity.app, self.ports.runs):
            self._spy(app.recorder)

    def _spy(self, recorder: Any) -> None:
        insert = recorder.insert_events

        def recorded(stored_events: Sequence[Any], **kwargs: Any) -> Any:
            ids = insert(stored_events, **kwargs)
            if self._saves is not None:
                names = [e.topic.rpartition(":")[2] for e in stored_events]
                self._saves.append(Saved(names, kwargs.get("context")))
            return ids

        recorder.insert_events = recorded

    # Given

    def signed_up(self, slug: str = "acme", email: str = "ada@example.com") -> Person:
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        begin = BeginSignUp(
            tenant_slug=slug, tenant_name=slug.title(), display_name="Ada", email=email
        )
        start = enrolment.begin_sign_up(begin, self.ports.identity)
        command = FinishSignUp(
            **begin.model_dump(),
            ceremony_id=start.ceremony_id,
            credential=authenticator.create(start.options),
        )
        return self.person(authenticator, self.dispatch(command, Issued()))

    def joined(self, invitation_token: str, name: str = "Bob") -> Person:
        """The invited person, after accepting with a passkey of their own."""
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        begin = BeginAcceptInvitation(invitation_token=invitation_token, display_name=name)
        start = enrolment.begin_accept_invitation(begin, self.ports.identity)
        command = FinishAcceptInvitation(
            **begin.model_dump(),
            ceremony_id=start.ceremony_id,
            credential=authenticator.create(start.options),
        )
        return self.person(authenticator, self.dispatch(command, Issued()))

    def member(self, admin: Person, email: str = "bob@example.com") -> Person:
        """A person the admin invited (starter capabilities only), signed in."""
        invited = self.dispatch(InviteUser(email=email), self.issued(admin))
        return self.joined(invited.credentials["invitation_token"])

    def person(self, authenticator: SoftwareAuthenticator, opened: CommandResult) -> Person:
        return Person(
            authenticator,
            uuid.UUID(opened.ids["tenant_id"]),
            opened.ids["user_id"],
            opened.ids["device_id"],
            opened.ids["session_id"],
            opened.credentials["access_token"],
            opened.credentials["refresh_token"],
        )

    def escalated_run(
        self,
        person: Person,
        plan: Plan | None = None,
        expires_in: timedelta = timedelta(minutes=15),
    ) -> str:
        """A run whose plan the policy escalated to the person, recorded as the worker would."""
        plan = plan or payment("20.00")
        run = Run(uuid.uuid4(), "Pay Bob 20 euros", person.user_id, person.device_id, "app")
        run.propose_plan(plan.model_dump(mode="json"), plan.plan_hash(), {"model": "mock"})
        run.decide("ESCALATE", {"policies": ["escalate-payments"]}, plan.plan_hash())
        run.request_escalation(self.memory.clock() + expires_in)
        self.ports.runs.save(run, context=EventContext(tenant=str(person.tenant_id)))
        return str(run.id)

    def approval(self, person: Person, run_id: str) -> dict[str, Any]:
        """The fields of an approval: a ceremony begun for the run's plan, and its assertion."""
        start = begin_approval(run_id, self.caller(person), self.ports.runs, self.ports.identity)
        return {
            "run_id": run_id,
            "ceremony_id": start.ceremony_id,
            "credential": person.authenticator.get(start.options),
        }

    def change_approval(self, person: Person, refused: DomainError) -> ChangeApproval:
        """The `approval` of a change refused with `step_up_required`: the person's passkey
        signs the options the refusal carried."""
        assert refused.code == "step_up_required", refused.code
        return ChangeApproval(
            ceremony_id=refused.details["ceremony_id"],
            credential=person.authenticator.get(refused.details["options"]),
        )

    def later(self, **delta: float) -> None:
        self.memory.clock.now += timedelta(**delta)

    # When

    def caller(self, person: Person) -> Caller:
        user = self.ports.identity.get_user(person.user_id, person.tenant_id)
        return Caller(
            tenant_id=person.tenant_id,
            user_id=person.user_id,
            device_id=person.device_id,
            session_id=person.session_id,
            capabilities=tuple(user.capabilities),
            correlation_id="corr-1",
            request_id="req-1",
        )

    def issued(self, person: Person | None = None, command_id: str | None = None) -> Issued:
        if person is None:
            return Issued(command_id=command_id, address="192.0.2.1")
        return Issued(
            caller=self.caller(person),
            command_id=command_id,
            claims=self.memory.tokens.verify_access_token(person.access_token),
            address="192.0.2.1",
            correlation_id="corr-1",
            request_id="req-1",
        )

    def dispatch(self, command: Command, issued: Issued) -> CommandResult:
        return self.memory.dispatcher.dispatch(command, issued)

    def when(self, command: Command, issued: Issued) -> Then:
        self._saves = []
        try:
            result: CommandResult | DomainError = self.dispatch(command, issued)
        except DomainError as refused:
            result = refused
        saves, self._saves = self._saves, None
        return Then(result, saves)


@dataclass
class Then:
    outcome: CommandResult | DomainError
    saves: list[Saved]

    @property
    def result(self) -> CommandResult:
        if isinstance(self.outcome, DomainError):
            pytest.fail(f"refused: {self.outcome.code}: {self.outcome.message}")
        return self.outcome

    def refused(self, code: str) -> DomainError:
        assert isinstance(self.outcome, DomainError), f"not refused: {self.outcome}"
        assert self.outcome.code == code, (self.outcome.code, self.outcome.message)
        return self.outcome

    @property
    def events(self) -> list[str]:
        return [name for save in self.saves for name in save.events]

    def context_of(self, event: str) -> EventContext:
        for save in self.saves:
            if event in save.events:
                assert save.context is not None, f"{event} was saved without a context"
                return save.context
        pytest.fail(f"{event} was not recorded; recorded: {self.events}")

    def nothing_recorded(self) -> None:
        assert self.saves == [], self.events
