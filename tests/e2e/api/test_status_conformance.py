"""Every status the API answers is one its OpenAPI document promises for that operation
(status-code conformance), on a real stack with the projectors running: the fuzzer's
requests (valid ones and ones that break the schema, as either tenant's admin or as nobody)
and the hostile values of the no-server-error test, with few examples each."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.e2e.api.test_fuzz_no_server_error import (
    ANONYMOUS_ONLY,
    _one_valid_case,
    _operations,
    _people,
    _send,
    _send_raw,
    _variants,
)
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e

EXAMPLES = 4  # per operation and mode: statuses, not crashes, are what is looked for
COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def _documented(operation: Any) -> set[str]:
    return set(operation.definition.raw["responses"])


def _id(operation: Any) -> str:
    return str(operation.definition.raw["operationId"])


def _fuzzed_statuses(
    cairn: Cairn, operation: Any, mode: GenerationMode, people: list[Person]
) -> dict[int, str]:
    """Each status the fuzzer's requests got, with one request that got it."""
    seen: dict[int, str] = {}
    who = st.just(None) if _id(operation) in ANONYMOUS_ONLY else st.sampled_from([*people, None])

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), person=who)
    def check(case: Any, person: Person | None) -> None:
        response = _send(cairn, case, person)
        seen.setdefault(response.status_code, f"{response.text[:120]}")

    with contextlib.suppress(Unsatisfiable):  # nothing in it can be made invalid
        check()
    return seen


def test_the_real_stack_serves_the_committed_document(served: Cairn) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served.client.get("/openapi.json").json() == committed, "run `make openapi`"


@pytest.mark.long(63)
def test_every_status_answered_is_documented_for_its_operation(served: Cairn) -> None:
    people = _people(served)
    ada = people[0]
    undocumented: dict[str, str] = {}
    seen: set[int] = set()
    for operation in _operations(served):
        documented = _documented(operation)
        statuses: dict[int, str] = {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            statuses |= _fuzzed_statuses(served, operation, mode, people)
        anonymous = _id(operation) in ANONYMOUS_ONLY
        for what, case in _variants(operation, _one_valid_case(operation)):
            response = _send_raw(served, case, None if anonymous else ada)
            statuses.setdefault(response.status_code, f"{what}: {response.text[:120]}")
        seen |= set(statuses)
        for status, example in statuses.items():
            if str(status) not in documented:
                undocumented[f"{_id(operation)} {status}"] = example
    assert not undocumented, f"{len(undocumented)} undocumented:\n" + "\n".join(
        f"{key} ({example})" for key, example in sorted(undocumented.items())
    )
    # The check saw more than successes: errors of several kinds were answered.
    assert {400, 401, 404, 422} <= seen, seen
