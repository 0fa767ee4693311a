"""No request, however malformed, gets a 5xx, and every status answered is one the OpenAPI
document promises for that operation (status-code conformance), on a real stack with the
projectors running:

- schemathesis generates requests for every operation of the app's own OpenAPI document
  (valid ones and ones that break it), sent as either of two tenants' admins or as nobody;
- then, for every operation, each of its parameters and each value of its JSON body is swapped
  in turn for hostile values the schema allows but the stores cannot hold (NUL characters,
  lone surrogates, forged cursors, numbers and times past their ranges, deep nesting).

Both checks look at the same answers: generating the requests is most of the time.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis

# Imported at collection, not lazily inside the test: on CPython 3.11.7, pytest's assertion
# rewrite of this schemathesis module, parsed deep in a pytest-xdist worker's stack, failed
# with "AST constructor recursion depth mismatch".
import schemathesis.specs.openapi.schemas
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.result import Ok

from tests.e2e.api.settled import settled
from tests.e2e.runs.test_intent_lifecycle import SARAH, submit, wait_status, with_model_answering
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e

EXAMPLES = 10  # per operation and mode (~40 operations)
# Sent without anyone's credentials: a stream with a valid token never ends, and a logout, an
# erasure or a device revocation would end the people this test is made of.
ANONYMOUS_ONLY = {"streamEvents", "logout", "eraseUser", "revokeDevice"}


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"a": [value]}
    return value


# Values that fit a parameter's type but not what the stores behind it hold.
HOSTILE_TEXT = [
    "",
    "a\x00b",
    "x" * 5000,
    "0001-01-01T00:00:00+23:59",
    _cursor(["9999-12-31T23:59:59-23:59", str(uuid.uuid4())]),
    _cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
    _cursor([2**64]),
    str(2**64),
    "-1",
    # A refresh token whose tenant (readable, before its hash is checked) has a NUL.
    "crt1." + base64.urlsafe_b64encode(b"a\x00b").decode().rstrip("=") + "." + "A" * 43,
]
# Only in JSON bodies: a URL cannot carry these.
HOSTILE_JSON = [
    2**63,
    "\ud800 x",
    {"\x00": 1},
    _nested(300),
]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def _variants(operation: Any, case: Any) -> Iterator[tuple[str, Any]]:
    """The case with one value swapped for a hostile one, for every parameter of the
    operation (given or not) and every value of its JSON body; restored after each."""
    path, query, body = dict(case.path_parameters or {}), dict(case.query or {}), case.body
    for parameter in operation.definition.raw.get("parameters", []):
        where, name = parameter["in"], parameter["name"]
        if where not in ("path", "query"):
            continue
        for value in HOSTILE_TEXT:
            if where == "path":
                case.path_parameters = {**path, name: quote(value, safe="") or "-"}
            else:
                case.query = {**query, name: value}
            yield f"{where} {name}={value[:40]!r}", case
            case.path_parameters, case.query = dict(path), dict(query)
    if isinstance(body, dict | list):
        for leaf in _leaves(body):
            for value in HOSTILE_TEXT + HOSTILE_JSON:
                case.body = _replace(body, leaf, value)
                yield f"body {'.'.join(map(str, leaf))}={str(value)[:40]!r}", case
        case.body = body


def _send(cairn: Cairn, case: Any, person: Person | None) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
    if person is not None:
        headers.update(person.headers)
    body: dict[str, Any] = {}
    if "json" in kwargs:
        # As escapes: a lone surrogate reaches the server as the client wrote it.
        body["content"] = json.dumps(kwargs["json"])
        headers["Content-Type"] = "application/json"
    elif "data" in kwargs:
        body["content"] = kwargs["data"]
    return cairn.client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers, **body
    )


def _send_raw(cairn: Cairn, case: Any, person: Person | None) -> Any:
    """As `_send`, without schemathesis' serializer (which cannot encode a lone surrogate)."""
    headers = {k: str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if person is not None:
        headers.update(person.headers)
    if any(
        p["name"] == "Idempotency-Key" for p in case.operation.definition.raw.get("parameters", [])
    ):
        headers["Idempotency-Key"] = uuid.uuid4().hex  # so the body is fingerprinted too
    content = None
    if not isinstance(case.body, NotSet):
        content = json.dumps(case.body)
        headers["Content-Type"] = "application/json"
    return cairn.client.request(
        case.method, case.formatted_path, params=case.query, headers=headers, content=content
    )


class Statuses:
    """Each status answered, and each one an operation's document does not list for it, with
    a request that got it."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.undocumented: dict[str, str] = {}

    def record(self, operation: Any, status: int, request: str) -> None:
        self.seen.add(status)
        if str(status) not in operation.definition.raw["responses"]:
            key = f"{operation.definition.raw['operationId']} {status}"
            self.undocumented.setdefault(key, request)

    def check(self, expected: set[int]) -> None:
        """None undocumented, and the requests got errors of several kinds, not only successes.
        When one is found, document it where it comes from: a rule in api/contract.py if it
        follows from a dependency, else on the route (docs/api.md)."""
        assert not self.undocumented, f"{len(self.undocumented)} undocumented:\n" + "\n".join(
            f"{key} ({request})" for key, request in sorted(self.undocumented.items())
        )
        assert expected <= self.seen, self.seen


def _fuzz(
    cairn: Cairn,
    operation: Any,
    mode: GenerationMode,
    people: list[Person],
    statuses: Statuses,
) -> None:
    anonymous = operation.definition.raw.get("operationId") in ANONYMOUS_ONLY
    who = st.just(None) if anonymous else st.sampled_from([*people, None])

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run
        phases=[Phase.explicit, Phase.generate],  # a failure is reported, not shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), person=who)
    def check(case: Any, person: Person | None) -> None:
        response = settled(lambda: _send(cairn, case, person))
        request = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.300}"
        assert response.status_code < 500, (
            f"{request} -> {response.status_code}: {response.text[:300]}"
        )
        statuses.record(operation, response.status_code, f"{request}: {response.text[:120]}")

    check()


def _people(cairn: Cairn) -> list[Person]:
    """Two tenants' admins, each with a run (so every list has something to page); rate
    limits far above what the test sends (a 429 would hide what is behind it)."""
    cairn.lift_rate_limits("fuzz-rl")
    people = [cairn.sign_up("fuzza"), cairn.sign_up("fuzzb", email="bob@example.com", name="Bob")]
    for person in people:
        with_model_answering(cairn, person, SARAH)
        run_id = submit(cairn, person, "Schedule a meeting with Sarah")["run_id"]
        wait_status(cairn, person, run_id, "completed")  # nothing of it left to do meanwhile
    return people


def _operations(cairn: Cairn) -> list[Any]:
    schema = schemathesis.openapi.from_dict(cairn.client.get("/openapi.json").json())
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    assert len(found) >= 40
    return found


def _one_valid_case(operation: Any) -> Any:
    """One request the schema allows (not shrunk to the simplest: that costs seconds)."""
    found: list[Any] = []

    @settings(
        max_examples=1,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def keep(case: Any) -> None:
        found.append(case)

    keep()
    return found[0]


@pytest.mark.long(60)
def test_generated_requests_get_no_server_error_and_only_documented_statuses(
    served: Cairn,
) -> None:
    people = _people(served)
    failures: list[str] = []
    statuses = Statuses()
    for operation in _operations(served):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(served, operation, mode, people, statuses)
            except Unsatisfiable:
                continue  # nothing in it can be made invalid (no parameters, no body)
            except Exception as error:
                inner = getattr(error, "exceptions", ())  # a flaky failure's first run
                detail = "".join(f"\n  first run: {e!r:.600}" for e in inner)
                failures.append(f"{operation.label} [{mode.value}]: {error}{detail}")
    assert not failures, "\n\n".join(failures)
    statuses.check({401, 404, 422})


@pytest.mark.long(19)
def test_hostile_values_in_any_parameter_get_no_server_error_and_only_documented_statuses(
    served: Cairn,
) -> None:
    ada, _ = _people(served)
    failures: list[str] = []
    statuses = Statuses()
    sent = 0
    for operation in _operations(served):
        anonymous = operation.definition.raw.get("operationId") in ANONYMOUS_ONLY
        base = _one_valid_case(operation)
        for what, case in _variants(operation, base):
            response = _send_raw(served, case, None if anonymous else ada)
            sent += 1
            if response.status_code >= 500:
                answer = f"{response.status_code}: {response.text[:200]}"
                failures.append(f"{operation.label} with {what} -> {answer}")
            statuses.record(operation, response.status_code, f"{what}: {response.text[:120]}")
    assert not failures, "\n".join(failures)
    assert sent > 700, sent
    statuses.check({400, 422})
