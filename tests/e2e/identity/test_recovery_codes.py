"""Recovery codes over HTTP: made with a passkey bound to the change and shown once; a code
adds a new passkey and signs in, once; wrong, used and replaced codes are refused by name,
and guessing locks the account out."""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx  # what fastapi's TestClient answers with
import pytest

from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e


def make_codes(cairn: Cairn, person: Person) -> list[str]:
    """Ten new codes, after signing the change's bound passkey challenge."""
    refused = cairn.client.post("/v1/recovery-codes", headers=person.headers, json={})
    assert refused.status_code == 403, refused.text
    details = refused.json()["error"]["details"]
    assert refused.json()["error"]["code"] == "step_up_required" and details["change_hash"]
    approval = {
        "ceremony_id": details["ceremony_id"],
        "credential": person.authenticator.get(details["options"]),
    }
    made = cairn.client.post(
        "/v1/recovery-codes", headers=person.headers, json={"approval": approval}
    )
    assert made.status_code == 201, made.text
    codes: list[str] = made.json()["codes"]
    return codes


def begin(cairn: Cairn, code: str) -> httpx.Response:
    return cairn.client.post("/v1/recovery/begin", json={"code": code})


def recover(cairn: Cairn, code: str, authenticator: SoftwareAuthenticator) -> httpx.Response:
    begun = begin(cairn, code)
    if begun.status_code != 200:
        return begun
    ceremony = begun.json()
    return cairn.client.post(
        "/v1/recovery/finish",
        json={
            "code": code,
            "ceremony_id": ceremony["ceremony_id"],
            "credential": authenticator.create(ceremony["options"]),
            "device_name": "new phone",
        },
    )


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def security_events(
    cairn: Cairn, headers: dict[str, str], kind: str, count: int
) -> list[dict[str, Any]]:
    """The person's security events of `kind`, once the view holds `count` of them (it
    follows the store; a bounded wait, not a speed check)."""
    deadline = time.monotonic() + 30
    while True:
        page = cairn.client.get("/v1/security-events?limit=100", headers=headers)
        assert page.status_code == 200, page.text
        found = [e for e in page.json()["items"] if e["kind"] == kind]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_code_adds_a_new_passkey_and_signs_in_once(cairn: Cairn) -> None:
    ada = cairn.sign_up("recovery")
    codes = make_codes(cairn, ada)
    assert len(codes) == len(set(codes)) == 10
    assert all(len(code) == 23 and code.count("-") == 3 for code in codes)
    status = cairn.client.get("/v1/recovery-codes", headers=ada.headers).json()
    assert status == {"count": 10, "remaining": 10}

    # Every passkey lost: a new phone, and a code typed in lowercase with spaces.
    phone = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    typed = codes[3].lower().replace("-", " ")
    recovered = recover(cairn, typed, phone)
    assert recovered.status_code == 201, recovered.text
    session = recovered.json()
    assert session["user_id"] == ada.session["user_id"]
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    me = cairn.client.get("/v1/me", headers=headers).json()
    assert [p["name"] for p in me["passkeys"]] == ["first passkey", "recovered passkey"]
    assert cairn.log_in(phone).session["user_id"] == ada.session["user_id"]
    status = cairn.client.get("/v1/recovery-codes", headers=headers).json()
    assert status == {"count": 10, "remaining": 9}

    # The same code again: refused by name, nothing added.
    again = recover(cairn, codes[3], SoftwareAuthenticator(EXAMPLE_ORIGIN))
    assert again.status_code == 401 and error_code(again) == "recovery_code_used"
    assert "once" in again.json()["error"]["message"]
    assert len(cairn.client.get("/v1/me", headers=headers).json()["passkeys"]) == 2

    uses = security_events(cairn, headers, "recovery_code_used", 2)
    assert sorted(e["outcome"] for e in uses) == ["refused", "succeeded"]
    assert len(security_events(cairn, headers, "recovery_codes_generated", 1)) == 1


def test_two_ceremonies_of_one_code_add_one_passkey(cairn: Cairn) -> None:
    ada = cairn.sign_up("recovery-race")
    code = make_codes(cairn, ada)[0]
    first, second = begin(cairn, code).json(), begin(cairn, code).json()
    finished = []
    for ceremony in (first, second):
        finished.append(
            cairn.client.post(
                "/v1/recovery/finish",
                json={
                    "code": code,
                    "ceremony_id": ceremony["ceremony_id"],
                    "credential": SoftwareAuthenticator(EXAMPLE_ORIGIN).create(ceremony["options"]),
                },
            )
        )
    assert finished[0].status_code == 201, finished[0].text
    assert finished[1].status_code == 401 and error_code(finished[1]) == "recovery_code_used"


def test_wrong_malformed_and_replaced_codes_are_refused(cairn: Cairn) -> None:
    ada = cairn.sign_up("recovery-bad")
    codes = make_codes(cairn, ada)
    for bad in ("not a code", "AAAAA-AAAAA-AAAAA-AAAAA", codes[0][:-1] + "0"):
        refused = begin(cairn, bad)
        assert refused.status_code == 401, refused.text
        assert error_code(refused) == "recovery_code_invalid"
    # The right first characters (they find the owner) with the wrong rest.
    last = "A" if codes[0][-1] != "A" else "B"
    wrong = begin(cairn, codes[0][:-1] + last)
    assert wrong.status_code == 401 and error_code(wrong) == "recovery_code_invalid"

    # A new set replaces the old one: its unused codes stop working.
    cairn.step_up(ada)
    newer = make_codes(cairn, ada)
    old = begin(cairn, codes[1])
    assert old.status_code == 401 and error_code(old) == "recovery_code_replaced"
    assert begin(cairn, newer[0]).status_code == 200


def test_a_ceremony_of_one_code_does_not_finish_with_another_persons_code(cairn: Cairn) -> None:
    ada, bob = cairn.sign_up("recovery-ada"), cairn.sign_up("recovery-bob")
    ada_code, bob_code = make_codes(cairn, ada)[0], make_codes(cairn, bob)[0]
    ceremony = begin(cairn, ada_code).json()
    crossed = cairn.client.post(
        "/v1/recovery/finish",
        json={
            "code": bob_code,
            "ceremony_id": ceremony["ceremony_id"],
            "credential": SoftwareAuthenticator(EXAMPLE_ORIGIN).create(ceremony["options"]),
        },
    )
    assert crossed.status_code == 401, crossed.text
    assert cairn.client.get("/v1/recovery-codes", headers=bob.headers).json()["remaining"] == 10


def test_guessing_codes_locks_the_account_out(cairn: Cairn) -> None:
    ada = cairn.sign_up("recovery-guess")
    code = make_codes(cairn, ada)[0]
    prefix = code.replace("-", "")[:8]
    letters = str.maketrans("0123456789", "ABCDEFGHIJ")
    answers = [begin(cairn, prefix + f"{i:012d}".translate(letters)) for i in range(6)]
    assert [r.status_code for r in answers[:5]] == [401] * 5
    assert answers[5].status_code == 429 and error_code(answers[5]) == "login_locked"
    assert int(answers[5].headers["retry-after"]) >= 1
    # While locked, even the right code is refused: a guesser learns nothing more.
    locked = begin(cairn, code)
    assert locked.status_code == 429 and error_code(locked) == "login_locked"
    refusals = security_events(cairn, ada.headers, "recovery_code_used", 5)
    assert len(refusals) == 5 and {e["outcome"] for e in refusals} == {"refused"}
