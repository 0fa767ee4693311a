"""Login, refresh, step-up and logout: Given / When / Then, in memory."""

from __future__ import annotations

import pytest

from commands.identity import login
from commands.identity.models import (
    FinishLogin,
    FinishStepUp,
    LogOut,
    RefreshSession,
)
from domain.errors import NotAuthenticated
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit


def test_login_with_the_passkey_registers_the_new_device_and_records_its_use(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    start = login.begin_login(scenario.ports.identity, "192.0.2.1")
    command = FinishLogin(
        ceremony_id=start.ceremony_id,
        credential=ada.authenticator.get(start.options),
        device_name="laptop",
    )
    then = scenario.when(command, scenario.issued())
    assert then.saves[0].events == ["User.DeviceRegistered", "User.PasskeyUsed"]
    assert then.result.ids["user_id"] == ada.user_id
    assert then.result.ids["device_id"] != ada.device_id
    assert then.context_of("User.PasskeyUsed").device == then.result.ids["device_id"]
    assert scenario.memory.login_guard.successes == [ada.user_id]


def test_a_login_with_a_spent_ceremony_is_refused_and_recorded_as_a_security_event(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    start = login.begin_login(scenario.ports.identity, "192.0.2.1")
    command = FinishLogin(
        ceremony_id=start.ceremony_id, credential=ada.authenticator.get(start.options)
    )
    scenario.dispatch(command, scenario.issued())
    then = scenario.when(command, scenario.issued())
    assert isinstance(then.refused("passkey_ceremony_unknown"), NotAuthenticated)
    assert then.events == ["SecurityEvent.SecurityEventRecorded"]
    assert scenario.memory.login_guard.failures == ["192.0.2.1"]


def test_refresh_rotates_and_a_reused_token_ends_the_family(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    rotated = scenario.when(RefreshSession(refresh_token=ada.refresh_token), scenario.issued())
    assert rotated.result.ids == {"session_id": ada.session_id}
    assert rotated.result.credentials["refresh_token"] != ada.refresh_token
    rotated.nothing_recorded()
    reused = scenario.when(RefreshSession(refresh_token=ada.refresh_token), scenario.issued())
    reused.refused("refresh_token_reused")
    assert reused.events == ["SecurityEvent.SecurityEventRecorded"]
    assert reused.context_of("SecurityEvent.SecurityEventRecorded").tenant == str(ada.tenant_id)


def test_step_up_records_the_passkey_use_and_hands_back_a_fresh_token(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    scenario.later(minutes=7)
    start = login.begin_step_up(scenario.caller(ada), scenario.ports.identity)
    command = FinishStepUp(
        ceremony_id=start.ceremony_id, credential=ada.authenticator.get(start.options)
    )
    then = scenario.when(command, scenario.issued(ada))
    assert then.events[0] == "User.PasskeyUsed"
    assert then.context_of("User.PasskeyUsed").actor == ada.user_id
    fresh = scenario.memory.tokens.verify_access_token(then.result.credentials["access_token"])
    assert scenario.memory.tokens.is_fresh(fresh)


def test_logout_ends_the_session_and_records_it(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    then = scenario.when(LogOut(), scenario.issued(ada))
    assert then.result.ids == {"session_id": ada.session_id}
    assert then.events == ["SecurityEvent.SecurityEventRecorded"]
    assert then.result.position is not None
    assert scenario.memory.sessions.sessions[ada.session_id].revoked == "logout"


def test_commands_for_signed_in_people_refuse_anonymous_callers(scenario: Scenario) -> None:
    then = scenario.when(LogOut(), scenario.issued())
    then.refused("not_authenticated")
    then.nothing_recorded()
