"""The event context: defaults, nesting, restoring, isolation between threads."""

from __future__ import annotations

import threading

import pytest

from domain.event_context import EventContext, current_event_context, event_context

pytestmark = pytest.mark.unit


def test_defaults_to_the_system() -> None:
    assert current_event_context() == EventContext(tenant="system", actor="system")


def test_nested_blocks_refine_and_restore() -> None:
    with event_context(tenant="acme", actor="u1") as outer:
        assert current_event_context() is outer
        with event_context(command_id="c1", causation_id="e9") as inner:
            assert inner == EventContext(
                tenant="acme", actor="u1", command_id="c1", causation_id="e9"
            )
        assert current_event_context() == outer
    assert current_event_context() == EventContext()


def test_a_given_base_replaces_the_current_context() -> None:
    with event_context(tenant="acme"), event_context(EventContext(actor="a2")) as context:
        assert context == EventContext(actor="a2")


def test_threads_do_not_share_a_context() -> None:
    seen: list[EventContext] = []
    with event_context(tenant="acme"):
        thread = threading.Thread(target=lambda: seen.append(current_event_context()))
        thread.start()
        thread.join()
    assert seen == [EventContext()]
