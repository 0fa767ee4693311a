from __future__ import annotations

import base64
import pickle

import pytest

from adapters.vault import KEKS_ENV, KeyRing, VaultConfigurationError, VaultKeyUnknown
from adapters.vault.keyring import encode_key, new_kek_entry

pytestmark = pytest.mark.unit

KEY_1, KEY_2 = bytes(range(32)), bytes(range(32, 64))
ENTRY_1, ENTRY_2 = f"v1:{encode_key(KEY_1)}", f"v2:{encode_key(KEY_2)}"


def test_the_last_listed_kek_is_current() -> None:
    ring = KeyRing.parse(f"{ENTRY_1},{ENTRY_2}")
    assert ring.versions == ("v1", "v2")
    assert ring.current_version == "v2"
    assert ring.current_key == KEY_2 and ring.key("v1") == KEY_1


def test_whitespace_newlines_and_missing_padding_are_accepted() -> None:
    unpadded = encode_key(KEY_1).rstrip("=")
    ring = KeyRing.parse(f"\n  v1 : {unpadded} ,\n\n {ENTRY_2}\n")
    assert ring.key("v1") == KEY_1 and ring.current_version == "v2"


def test_to_config_round_trips_and_is_a_secret() -> None:
    ring = KeyRing.parse(f"{ENTRY_1},{ENTRY_2}")
    config = ring.to_config()
    assert repr(config) == "Secret('***')"
    again = KeyRing.parse(config.reveal_text())
    assert again.versions == ring.versions and again.key("v2") == KEY_2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "lists no key-encryption key"),
        (" , ,", "lists no key-encryption key"),
        (encode_key(KEY_1), r"entry 1 of 1 is not '<version>:"),
        (f"{ENTRY_1},v 2:{encode_key(KEY_2)}", "entry 2 of 2: a KEK version is"),
        (f"v1:{encode_key(KEY_1)[:-8]}", "must decode to 32 bytes, not"),
        (f"v1:{base64.b64encode(bytes([251]) * 32).decode()}", "not urlsafe base64"),
        (f"v1:{encode_key(KEY_1)[:10]}!{encode_key(KEY_1)[11:]}", "not urlsafe base64"),
        (f"{ENTRY_1},v1:{encode_key(KEY_2)}", "repeats a version listed earlier"),
    ],
)
def test_invalid_configuration_names_the_variable_but_never_the_key(
    text: str, expected: str
) -> None:
    with pytest.raises(VaultConfigurationError, match=expected) as caught:
        KeyRing.parse(text)
    message = str(caught.value)
    assert message.startswith(KEKS_ENV)
    for material in (encode_key(KEY_1), encode_key(KEY_2)):
        assert material[:12] not in message and material[-12:] not in message


def test_unknown_version_is_a_clear_error() -> None:
    ring = KeyRing.parse(ENTRY_2)
    with pytest.raises(VaultKeyUnknown, match="'v1' is not configured in CAIRN_VAULT_KEKS") as e:
        ring.key("v1")
    assert e.value.code == "vault_key_unknown"
    assert e.value.details == {"kek_version": "v1", "configured": ["v2"]}


def test_repr_and_pickle_never_show_key_material() -> None:
    ring = KeyRing.parse(f"{ENTRY_1},{ENTRY_2}")
    assert repr(ring) == "KeyRing(versions=['v1', 'v2'], current='v2')"
    with pytest.raises(TypeError):
        pickle.dumps(ring)


def test_building_rings_for_rotation() -> None:
    ring = KeyRing.generate("v1")
    rotated = ring.with_new_key("v2")
    assert rotated.versions == ("v1", "v2") and rotated.key("v1") == ring.key("v1")
    assert rotated.current_key != ring.current_key
    assert rotated.without("v1").versions == ("v2",)
    with pytest.raises(VaultConfigurationError, match="at least one KEK"):
        ring.without("v1")
    with pytest.raises(VaultConfigurationError, match="listed twice"):
        rotated.with_new_key("v1")


def test_new_kek_entry_is_accepted_by_the_parser() -> None:
    entry = new_kek_entry("2026-07")
    assert KeyRing.parse(f"{ENTRY_1},{entry}").current_version == "2026-07"
    with pytest.raises(VaultConfigurationError):
        new_kek_entry("bad version")


def test_from_env_without_configuration_or_dev_file_is_refused() -> None:
    with pytest.raises(VaultConfigurationError, match="missing configuration: CAIRN_VAULT_KEKS"):
        KeyRing.from_env({KEKS_ENV: "  "})
    assert KeyRing.from_env({KEKS_ENV: ENTRY_1}).key("v1") == KEY_1


def test_rotation_report_tells_when_old_keks_can_go() -> None:
    from adapters.vault import RotationReport

    done = RotationReport("v2", 3, 1, keys_by_kek={"v2": 4})
    assert done.old_keks_in_use == () and "older KEKs can be removed" in done.summary()
    late = RotationReport("v2", 3, 1, keys_by_kek={"v1": 1, "v2": 4})
    assert late.old_keks_in_use == ("v1",)
    assert "still wrapped by older KEKs: v1" in late.summary()
