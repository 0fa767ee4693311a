"""Hypothesis stateful test: save, load, concurrent save, snapshot and restart in any order;
the loaded state always equals a replay of the stored events, and the model."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

pytestmark = pytest.mark.integration


class Tally(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.entries: list[int] = []

    @event("Entered")
    def enter(self, amount: int) -> None:
        self.entries.append(amount)


class Tallies(Application[uuid.UUID]):
    is_snapshotting_enabled = True


class EventStoreMachine(RuleBasedStateMachine):
    tallies = Bundle("tallies")

    def __init__(self) -> None:
        super().__init__()
        import os

        stream = f"sm{uuid.uuid4().hex[:12]}"
        self.env = {
            "PERSISTENCE_MODULE": "adapters.jetstream",
            "NATS_URL": os.environ["CAIRN_NATS_URL"],
            "NATS_MONITOR_URL": os.environ.get("CAIRN_NATS_MONITOR_URL", ""),
            "NATS_STREAM": stream,
            "NATS_SUBJECT_PREFIX": stream,
        }
        self.app = Tallies(env=self.env)
        self.model: dict[uuid.UUID, list[int]] = {}

    def teardown(self) -> None:
        self.app.close()

    @rule(target=tallies, name=st.text(min_size=1, max_size=8))
    def create(self, name: str) -> uuid.UUID:
        tally = Tally(name)
        self.app.save(tally)
        self.model[tally.id] = []
        return tally.id

    @rule(tally_id=tallies, amounts=st.lists(st.integers(-1000, 1000), min_size=1, max_size=5))
    def enter(self, tally_id: uuid.UUID, amounts: list[int]) -> None:
        tally: Tally = self.app.repository.get(tally_id)
        for amount in amounts:
            tally.enter(amount)
        self.app.save(tally)
        self.model[tally_id].extend(amounts)

    @rule(tally_id=tallies, first=st.integers(0, 9), second=st.integers(10, 19))
    def concurrent_save(self, tally_id: uuid.UUID, first: int, second: int) -> None:
        copies: list[Tally] = [self.app.repository.get(tally_id) for _ in range(2)]
        copies[0].enter(first)
        copies[1].enter(second)
        outcomes: list[Any] = [None, None]

        def save(index: int) -> None:
            try:
                self.app.save(copies[index])
                outcomes[index] = "saved"
            except IntegrityError as exc:
                outcomes[index] = exc

        threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("saved") == 1, outcomes
        winner = outcomes.index("saved")
        self.model[tally_id].append((first, second)[winner])

    @rule(tally_id=tallies)
    def snapshot(self, tally_id: uuid.UUID) -> None:
        try:
            self.app.take_snapshot(tally_id)
        except IntegrityError:
            # A snapshot of this version exists already; like every recorder of the library
            # (PostgreSQL's primary key, POPO), the event store refuses a second one.
            assert self.app.snapshots is not None
            latest = self.app.snapshots.recorder.select_events(tally_id, desc=True, limit=1)
            current: Tally = self.app.repository.get(tally_id)
            assert [s.originator_version for s in latest] == [current.version]

    @rule()
    def restart(self) -> None:
        self.app.close()
        self.app = Tallies(env=self.env)

    @invariant()
    def loaded_equals_replay_equals_model(self) -> None:
        for tally_id, entries in self.model.items():
            loaded: Tally = self.app.repository.get(tally_id)
            replayed: Tally | None = None
            for stored in self.app.recorder.select_events(tally_id):
                domain_event = self.app.mapper.to_domain_event(stored)
                assert isinstance(domain_event, Tally.Event)
                replayed = domain_event.mutate(replayed)
            assert replayed is not None
            assert loaded.entries == replayed.entries == entries
            assert loaded.version == replayed.version


EventStoreMachine.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEventStoreMachine = EventStoreMachine.TestCase
