"""KeyRing: keys from the environment or secret files, clear errors, never shown."""

from __future__ import annotations

import base64
import logging
import secrets
from pathlib import Path

import pytest

from citysieve.errors import ConfigurationError
from citysieve.keys import ENCRYPTION_KEY_VAR, PSEUDONYM_KEY_VAR, KeyRing

RAW = bytes(range(32))
RAW48 = bytes(range(48))


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        (RAW.hex(), RAW),
        (RAW.hex().upper(), RAW),
        (base64.b64encode(RAW).decode(), RAW),
        (base64.urlsafe_b64encode(RAW48).decode().rstrip("="), RAW48),
        ("hex:" + RAW48.hex(), RAW48),
        ("base64:" + base64.b64encode(RAW48).decode(), RAW48),
        ("  " + RAW.hex() + "\n", RAW),
    ],
)
def test_when_pseudonym_key_in_env_then_decoded(text: str, raw: bytes) -> None:
    assert KeyRing.from_env({PSEUDONYM_KEY_VAR: text}).pseudonym_key() == raw


@pytest.mark.parametrize(
    ("content", "raw"),
    [
        (RAW.hex().encode() + b"\n", RAW),
        (base64.b64encode(RAW48), RAW48),
        (bytes([0xFF]) + RAW[1:], bytes([0xFF]) + RAW[1:]),  # raw bytes, as a Secret mounts them
    ],
)
def test_when_key_file_given_then_read_from_it(tmp_path: Path, content: bytes, raw: bytes) -> None:
    path = tmp_path / "pseudonym-key"
    path.write_bytes(content)
    keys = KeyRing.from_env({f"{PSEUDONYM_KEY_VAR}_FILE": str(path)})
    assert keys.pseudonym_key() == raw


def test_when_encryption_key_in_env_then_loaded_next_to_pseudonym_key() -> None:
    keys = KeyRing.from_env({PSEUDONYM_KEY_VAR: RAW48.hex(), ENCRYPTION_KEY_VAR: RAW.hex()})
    assert (keys.pseudonym_key(), keys.encryption_key()) == (RAW48, RAW)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({PSEUDONYM_KEY_VAR: bytes(16).hex()}, f"{PSEUDONYM_KEY_VAR} is too short"),
        ({PSEUDONYM_KEY_VAR: "not a key!"}, f"{PSEUDONYM_KEY_VAR} is neither hex nor base64"),
        ({ENCRYPTION_KEY_VAR: RAW48.hex()}, f"{ENCRYPTION_KEY_VAR} must be exactly 32 bytes"),
        (
            {PSEUDONYM_KEY_VAR: RAW.hex(), f"{PSEUDONYM_KEY_VAR}_FILE": "/x"},
            f"set {PSEUDONYM_KEY_VAR} or {PSEUDONYM_KEY_VAR}_FILE, not both",
        ),
        ({f"{PSEUDONYM_KEY_VAR}_FILE": "/nonexistent/key"}, "cannot be read"),
    ],
)
def test_when_key_set_wrongly_then_configuration_error_names_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeyRing.from_env(environ)


@pytest.mark.parametrize(
    ("get", "variable"),
    [(KeyRing.pseudonym_key, PSEUDONYM_KEY_VAR), (KeyRing.encryption_key, ENCRYPTION_KEY_VAR)],
)
def test_when_key_missing_then_asking_for_it_says_which_variable_to_set(
    get: object, variable: str
) -> None:
    keys = KeyRing.from_env({})
    with pytest.raises(ConfigurationError, match=f"set {variable} .* or {variable}_FILE"):
        get(keys)  # type: ignore[operator]


def test_when_empty_key_file_then_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("\n")
    with pytest.raises(ConfigurationError, match="is empty"):
        KeyRing.from_env({f"{ENCRYPTION_KEY_VAR}_FILE": str(path)})


def test_when_demo_keys_made_then_random_full_length_and_marked_ephemeral() -> None:
    first, second = KeyRing.for_demo(), KeyRing.for_demo()
    assert first.ephemeral
    assert len(first.pseudonym_key()) == 32 and len(first.encryption_key()) == 32
    assert first.pseudonym_key() != second.pseudonym_key()


def test_when_keyring_printed_or_logged_then_no_key_material_shows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = secrets.token_bytes(32)
    keys = KeyRing.from_env({PSEUDONYM_KEY_VAR: key.hex()})
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("keys: %s %r", keys, keys)
    shown = repr(keys) + str(keys) + caplog.text + f"{keys}"
    for form in (key.hex(), key.hex().upper(), base64.b64encode(key).decode(), str(key)):
        assert form not in shown
    assert repr(keys) == "KeyRing(pseudonym=<set>, encryption=<missing>)"
