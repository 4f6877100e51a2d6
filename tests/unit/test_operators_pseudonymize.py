"""Keyed pseudonyms: stable within an epoch and across spellings, unlinkable across keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from citysieve.errors import ConfigurationError, InputValidationError
from citysieve.keys import KeyRing
from transforms.operators import Pseudonymize, build, epoch_indexes, epoch_key
from transforms.operators.normalizers import NORMALIZERS

KEYS = KeyRing.for_demo()
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # 16 bytes, base64url, no padding


def pseudonymizer(keys: KeyRing = KEYS, **params: Any) -> Pseudonymize:
    op = build({"operator": "pseudonymize", "dataset": "wifi_presence", **params}, keys=keys)
    assert isinstance(op, Pseudonymize)
    return op


MAC_SPELLINGS = [
    "00:1A:2B:3C:4D:5E",
    "00:1a:2b:3c:4d:5e",
    "00-1A-2B-3C-4D-5E",
    "00-1a-2b-3c-4d-5e",
    "001A.2B3C.4D5E",
    "001a.2b3c.4d5e",
    "001A2B3C4D5E",
    " 00:1a:2b:3c:4d:5e ",
]


@pytest.mark.parametrize("spelling", MAC_SPELLINGS)
def test_when_mac_spelt_any_way_then_one_token(spelling: str) -> None:
    op = pseudonymizer(normalizer="mac")
    reference = op.operate(pa.array(["00:1a:2b:3c:4d:5e"]), 5)[0].as_py()
    assert op.operate(pa.array([spelling]), 5)[0].as_py() == reference


@pytest.mark.parametrize(
    ("normalizer", "spellings"),
    [
        (
            "phone",
            ["(212) 555-0199", "212.555.0199", "+1 212 555 0199", "2125550199", "1-212-555-0199"],
        ),
        ("plate", ["ABC-1234", "abc 1234", "ABC1234", " abc-1234 "]),
        ("email", ["Ana.Lopez@Gmail.com", " ana.lopez@gmail.com"]),
        ("text", ["  Ana LOPEZ ", "ana lopez"]),
    ],
)
def test_when_identifier_spelt_differently_then_normalized_to_one_token(
    normalizer: str, spellings: list[str]
) -> None:
    tokens = pseudonymizer(normalizer=normalizer).operate(pa.array(spellings), 0).to_pylist()
    assert len(set(tokens)) == 1


@pytest.mark.parametrize(
    ("normalizer", "value", "normalized"),
    [
        ("mac", "00:1A:2B:3C:4D:5E", "001a2b3c4d5e"),
        ("mac", "001A.2B3C.4D5E", "001a2b3c4d5e"),
        ("mac", "not a mac", "not a mac"),
        ("phone", "(212) 555-0199", "+12125550199"),
        ("phone", "+44 20 7946 0958", "+442079460958"),
        ("phone", "ask at desk", "ask at desk"),
        ("plate", "abc-1234", "ABC1234"),
        ("email", " Ana@Gmail.COM ", "ana@gmail.com"),
        ("text", " Straße ", "strasse"),
        ("none", " As Is ", " As Is "),
    ],
)
def test_when_normalized_then_canonical_form(normalizer: str, value: str, normalized: str) -> None:
    assert NORMALIZERS[normalizer](value) == normalized


def test_when_same_epoch_then_same_token_and_new_epoch_new_token() -> None:
    op = pseudonymizer(normalizer="mac")
    values = pa.array(["00:1a:2b:3c:4d:5e"] * 3)
    tokens = op.operate(values, pa.array([100, 100, 101])).to_pylist()
    assert tokens[0] == tokens[1]
    assert tokens[1] != tokens[2]
    assert op.operate(pa.array(["00:1a:2b:3c:4d:5e"]), 101)[0].as_py() == tokens[2]


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (lambda: pseudonymizer(keys=KeyRing.for_demo(), normalizer="mac"), False),  # wrong key
        (
            lambda: build(
                {"operator": "pseudonymize", "dataset": "alpr_reads", "normalizer": "mac"},
                keys=KEYS,
            ),
            False,
        ),
        (lambda: pseudonymizer(normalizer="mac"), True),  # same key, same dataset
    ],
)
def test_when_key_or_dataset_differs_then_tokens_differ(other: Any, same: bool) -> None:
    values = pa.array(["00:1a:2b:3c:4d:5e", "aa:bb:cc:dd:ee:ff"])
    mine = pseudonymizer(normalizer="mac").operate(values, 7).to_pylist()
    theirs = other().operate(values, 7).to_pylist()
    assert (mine == theirs) is same


def test_when_token_made_then_it_is_the_truncated_hmac_of_the_epoch_key() -> None:
    op = pseudonymizer(normalizer="mac")
    token = op.operate(pa.array(["00:1A:2B:3C:4D:5E"]), 42)[0].as_py()
    key = epoch_key(KEYS.pseudonym_key(), "wifi_presence", 42)
    digest = hmac.new(key, b"001a2b3c4d5e", hashlib.sha256).digest()[:16]
    assert token == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert TOKEN.match(token)
    assert "001a2b3c4d5e" not in token


def test_when_epoch_key_derived_then_hkdf_info_names_dataset_and_epoch() -> None:
    master = bytes(range(32))
    assert epoch_key(master, "d", 1) != epoch_key(master, "d", 2)
    assert epoch_key(master, "d", 12) != epoch_key(master, "d1", 2)  # separator in info
    assert epoch_key(master, "d", 1) == epoch_key(master, "d", 1)
    assert len(epoch_key(master, "d", 1)) == 32


def test_when_values_null_then_tokens_null_and_repeats_hashed_once() -> None:
    op = pseudonymizer(normalizer="plate")
    out = op.operate(pa.array(["ABC1234", None, "ABC1234"]), 0).to_pylist()
    assert out[1] is None and out[0] == out[2]
    assert op._hmac_for.cache_info().currsize == 1


@pytest.mark.parametrize(
    ("period", "times", "expected"),
    [
        (
            86_400,
            ["1970-01-01T00:00:00Z", "1970-01-01T23:59:59Z", "1970-01-02T00:00:00Z"],
            [0, 0, 1],
        ),
        (
            "P30D",
            ["2024-05-14T12:00:00Z"],
            [int(datetime(2024, 5, 14, 12, tzinfo=UTC).timestamp()) // (30 * 86_400)],
        ),
        (
            "PT1H",
            ["2024-05-14T08:59:59-04:00", "2024-05-14T13:00:00+00:00"],
            [int(datetime(2024, 5, 14, 12, 59, 59, tzinfo=UTC).timestamp()) // 3600, 476_581],
        ),
        (3_600, ["1969-12-31T23:30:00Z"], [-1]),
    ],
)
def test_when_event_times_given_then_epoch_is_floor_of_seconds_over_period(
    period: Any, times: list[str], expected: list[int]
) -> None:
    op = pseudonymizer(period=period)
    assert op.epochs_for(pa.array(times)).to_pylist() == expected


def test_when_window_divides_period_then_window_never_straddles_epochs() -> None:
    minute = 60
    times = pa.array(list(range(0, 7 * 86_400, 15 * minute)), pa.int64())
    stamps = pa.array((times.to_numpy() * 1_000_000), pa.timestamp("us", tz="UTC"))
    epochs = epoch_indexes(stamps, 86_400).to_pylist()
    windows = [t // (15 * minute) for t in times.to_pylist()]
    for window in set(windows):
        assert len({e for e, w in zip(epochs, windows, strict=True) if w == window}) == 1


def test_when_rotating_and_no_epochs_given_then_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="pass epochs"):
        pseudonymizer(period="1d").operate(pa.array(["x"]))


def test_when_period_never_then_one_epoch_for_all_time() -> None:
    op = pseudonymizer(period="never")
    assert op.epochs_for(pa.array(["2024-05-14T12:00:00Z"])) == 0
    assert op.operate(pa.array(["x"])).to_pylist() == op.operate(pa.array(["x"]), 0).to_pylist()


def test_when_event_time_missing_then_input_validation_error() -> None:
    with pytest.raises(InputValidationError, match="missing_time"):
        pseudonymizer(period="1d").epochs_for(pa.array(["2024-05-14T12:00:00Z", None]))


@given(st.lists(st.text(max_size=20) | st.none(), max_size=30), st.integers(-5, 5))
def test_when_any_column_pseudonymized_then_same_value_same_token_and_nulls_kept(
    values: list[str | None], epoch: int
) -> None:
    op = pseudonymizer(normalizer="none")
    tokens = op.operate(pa.array(values, pa.string()), epoch).to_pylist()
    by_value: dict[str, str] = {}
    for value, token in zip(values, tokens, strict=True):
        if value is None:
            assert token is None
        else:
            assert token is not None and TOKEN.match(token)
            assert by_value.setdefault(value, token) == token
    assert len(set(by_value.values())) == len(by_value)
