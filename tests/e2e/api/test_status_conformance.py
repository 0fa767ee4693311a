"""The real stack serves the committed OpenAPI document. That every status the API answers is
one the document promises for its operation (status-code conformance) is checked on the fuzz
tests' own answers (test_fuzz_no_server_error.py): the same requests, generated once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_the_real_stack_serves_the_committed_document(served: Cairn) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served.client.get("/openapi.json").json() == committed, "run `make openapi`"
