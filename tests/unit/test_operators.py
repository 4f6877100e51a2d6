"""Operators and their factory: every name, its parameters, whole columns, nulls kept."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import h3
import pyarrow as pa
import pytest

from citysieve.errors import ConfigurationError, InputValidationError, PolicyError
from citysieve.keys import KeyRing
from transforms.operators import (
    Drop,
    Encrypt,
    GeneralizeH3,
    GeneralizeRange,
    GeneralizeTimeBucket,
    GeneralizeZipPrefix,
    Keep,
    Mask,
    PresidioRedact,
    Pseudonymize,
    Redact,
    Replace,
    build,
    decrypt,
)

KEYS = KeyRing.for_demo()


# --- the factory ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ({"operator": "keep"}, Keep),
        ({"operator": "drop"}, Drop),
        ({"operator": "redact"}, Redact),
        ({"operator": "replace", "entity_type": "PHONE_NUMBER"}, Replace),
        ({"operator": "replace", "value": "n/a"}, Replace),
        ({"operator": "mask", "chars_to_mask": 4}, Mask),
        (
            {"operator": "pseudonymize", "dataset": "wifi_presence", "normalizer": "mac"},
            Pseudonymize,
        ),
        ({"operator": "generalize", "kind": "h3", "resolution": 9}, GeneralizeH3),
        ({"operator": "generalize", "kind": "time_bucket", "size": "PT15M"}, GeneralizeTimeBucket),
        ({"operator": "generalize", "kind": "range", "width": 10}, GeneralizeRange),
        ({"operator": "generalize", "kind": "zip_prefix", "length": 3}, GeneralizeZipPrefix),
        ({"operator": "encrypt"}, Encrypt),
        ({"operator": "presidio", "entities": ["EMAIL_ADDRESS"]}, PresidioRedact),
    ],
)
def test_when_spec_names_an_operator_then_factory_builds_its_class(
    spec: dict[str, Any], cls: type
) -> None:
    assert type(build(spec, keys=KEYS)) is cls


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"operator": "shred"}, "unknown operator 'shred'; use one of"),
        ({}, "unknown operator None"),
        ({"operator": "generalize"}, "generalize needs kind: one of"),
        ({"operator": "generalize", "kind": "hexagon"}, "generalize needs kind"),
        ({"operator": "keep", "mode": "fast"}, "mode: unknown parameter"),
        ({"operator": "mask"}, "chars_to_mask: Field required"),
        ({"operator": "mask", "chars_to_mask": -1}, "chars_to_mask: Input should be greater"),
        ({"operator": "mask", "chars_to_mask": 2, "masking_char": "##"}, "masking_char"),
        ({"operator": "replace", "value": "x", "entity_type": "PERSON"}, "not both"),
        ({"operator": "pseudonymize"}, "dataset: Field required"),
        ({"operator": "pseudonymize", "dataset": "d", "normalizer": "iban"}, "normalizer"),
        ({"operator": "pseudonymize", "dataset": "d", "period": "soon"}, "not a duration"),
        ({"operator": "pseudonymize", "dataset": "d", "key": "other"}, "named keys are not"),
        ({"operator": "generalize", "kind": "h3", "resolution": 16}, "resolution"),
        ({"operator": "generalize", "kind": "time_bucket", "size": 0}, "longer than zero"),
        ({"operator": "generalize", "kind": "range"}, "give either width"),
        ({"operator": "generalize", "kind": "range", "edges": [5, 1]}, "strictly increasing"),
        ({"operator": "generalize", "kind": "zip_prefix", "length": 6}, "length"),
        ({"operator": "presidio", "entities": ["SHOE_SIZE"]}, "unknown PII entities"),
    ],
)
def test_when_spec_is_wrong_then_policy_error_says_what_to_change(
    spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        build(spec, keys=KEYS, field="f")
    assert message in str(caught.value)
    assert caught.value.field == "f"


@pytest.mark.parametrize(
    "spec",
    [{"operator": "pseudonymize", "dataset": "d"}, {"operator": "encrypt"}],
)
def test_when_keyed_operator_built_without_keys_then_configuration_error(
    spec: dict[str, Any],
) -> None:
    with pytest.raises(ConfigurationError, match="needs keys"):
        build(spec)


@pytest.mark.parametrize(
    ("spec", "variable"),
    [
        ({"operator": "pseudonymize", "dataset": "d"}, "CITYSIEVE_PSEUDONYM_KEY"),
        ({"operator": "encrypt"}, "CITYSIEVE_ENCRYPTION_KEY"),
    ],
)
def test_when_key_missing_from_keyring_then_error_names_the_variable(
    spec: dict[str, Any], variable: str
) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        build(spec, keys=KeyRing())


# --- simple operators ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "values", "expected"),
    [
        ({"operator": "keep"}, pa.array([1, None, 3]), [1, None, 3]),
        ({"operator": "drop"}, pa.array(["a", None]), [None, None]),
        ({"operator": "redact"}, pa.array(["Ana", None, "Bo"]), ["", None, ""]),
        ({"operator": "redact"}, pa.array([1.5, None]), [None, None]),
        (
            {"operator": "replace", "entity_type": "PHONE_NUMBER"},
            pa.array(["212-555-0199", None]),
            ["<PHONE_NUMBER>", None],
        ),
        ({"operator": "replace", "value": "n/a"}, pa.array(["x", None]), ["n/a", None]),
        ({"operator": "replace"}, pa.array(["x"]), ["<REDACTED>"]),
        (
            {"operator": "mask", "chars_to_mask": 8, "from_end": False},
            pa.array(["212-555-0199", None, "abc"]),
            ["********0199", None, "***"],
        ),
        (
            {"operator": "mask", "chars_to_mask": 4, "from_end": True, "masking_char": "#"},
            pa.array(["212-555-0199", ""]),
            ["212-555-####", ""],
        ),
        ({"operator": "mask", "chars_to_mask": 2}, pa.array([12345]), ["**345"]),
    ],
)
def test_when_simple_operator_applied_then_column_transformed_and_nulls_kept(
    spec: dict[str, Any], values: pa.Array, expected: list[Any]
) -> None:
    assert build(spec).operate(values).to_pylist() == expected


def test_when_drop_built_then_it_removes_the_field() -> None:
    assert build({"operator": "drop"}).removes_field
    assert not build({"operator": "keep"}).removes_field


def test_when_keep_given_chunked_array_then_one_array_comes_back() -> None:
    chunked = pa.chunked_array([[1, 2], [3]])
    assert build({"operator": "keep"}).operate(chunked).to_pylist() == [1, 2, 3]


# --- generalize ----------------------------------------------------------------------------------
def test_when_h3_pair_generalized_then_each_point_gets_its_cell() -> None:
    op = build({"operator": "generalize", "kind": "h3", "resolution": 9})
    assert isinstance(op, GeneralizeH3)
    lat = pa.array([40.7128, None, 95.0, 40.7128])
    lon = pa.array([-74.0060, -74.0, -74.0, None])
    cells = op.operate_pair(lat, lon).to_pylist()
    assert cells == [h3.latlng_to_cell(40.7128, -74.0060, 9), None, None, None]


def test_when_h3_struct_generalized_then_same_cells_as_the_pair() -> None:
    op = build({"operator": "generalize", "kind": "h3", "resolution": 7})
    points = pa.array(
        [{"lat": 40.7, "lon": -73.9}, None],
        pa.struct([("lat", pa.float64()), ("lon", pa.float64())]),
    )
    assert op.operate(points).to_pylist() == [h3.latlng_to_cell(40.7, -73.9, 7), None]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("size", "values", "expected"),
    [
        (
            "PT15M",
            pa.array([ts("2024-05-14T12:07:59+00:00"), None], pa.timestamp("us", tz="UTC")),
            [ts("2024-05-14T12:00:00+00:00"), None],
        ),
        (
            "1h",
            pa.array(["2024-05-14T12:59:59Z", "2024-05-14T08:30:00-04:00"]),
            [ts("2024-05-14T12:00:00+00:00"), ts("2024-05-14T12:00:00+00:00")],
        ),
        (
            86_400,
            pa.array([ts("2024-05-14T23:59:00+00:00")], pa.timestamp("ms", tz="America/New_York")),
            [ts("2024-05-14T00:00:00+00:00")],
        ),
    ],
)
def test_when_times_bucketed_then_floor_of_utc_bucket(
    size: Any, values: pa.Array, expected: list[datetime]
) -> None:
    op = build({"operator": "generalize", "kind": "time_bucket", "size": size})
    out = op.operate(values)
    assert out.type == pa.timestamp("us", tz="UTC")
    assert out.to_pylist() == expected


@pytest.mark.parametrize(
    "values",
    [pa.array([datetime(2024, 5, 14, 12, 0)], pa.timestamp("us")), pa.array(["yesterday noon"])],  # noqa: DTZ001
)
def test_when_times_naive_or_unparseable_then_input_validation_error(values: pa.Array) -> None:
    op = build({"operator": "generalize", "kind": "time_bucket", "size": "PT1H"})
    with pytest.raises(InputValidationError):
        op.operate(values)


@pytest.mark.parametrize(
    ("params", "values", "expected"),
    [
        ({"width": 10}, pa.array([0, 9, 10, 25, None]), ["0-10", "0-10", "10-20", "20-30", None]),
        ({"width": 0.5}, pa.array([1.2, -0.1]), ["1-1.5", "-0.5-0"]),
        (
            {"edges": [0, 18, 65]},
            pa.array([-1, 0, 17, 18, 64, 65, 99, None]),
            ["<0", "0-18", "0-18", "18-65", "18-65", "65+", "65+", None],
        ),
        ({"width": 10}, pa.array([float("nan")]), [None]),
    ],
)
def test_when_numbers_generalized_to_ranges_then_labels_hold_them(
    params: dict[str, Any], values: pa.Array, expected: list[str | None]
) -> None:
    op = build({"operator": "generalize", "kind": "range", **params})
    assert op.operate(values).to_pylist() == expected


@pytest.mark.parametrize(
    ("params", "values", "expected"),
    [
        (
            {},
            pa.array(["11215", "11215-1234", " 10027 ", None, "1121", "abcde"]),
            ["112", "112", "100", None, None, None],
        ),
        ({"length": 5}, pa.array(["11215-1234"]), ["11215"]),
        ({}, pa.array([2134, 10027]), ["021", "100"]),
        ({"restricted": ["036", "059"]}, pa.array(["03601", "11215"]), ["000", "112"]),
    ],
)
def test_when_zips_generalized_then_prefix_kept(
    params: dict[str, Any], values: pa.Array, expected: list[str | None]
) -> None:
    op = build({"operator": "generalize", "kind": "zip_prefix", **params})
    assert op.operate(values).to_pylist() == expected


# --- encrypt -------------------------------------------------------------------------------------
def test_when_encrypted_then_key_holder_decrypts_and_equal_values_differ() -> None:
    op = build({"operator": "encrypt", "context": "account_holder"}, keys=KEYS)
    out = op.operate(pa.array(["Ana Lopez", "Ana Lopez", None])).to_pylist()
    assert out[2] is None
    assert out[0] != out[1]  # random nonce per value
    assert len(base64.b64decode(out[0])) == 12 + len(b"Ana Lopez") + 16
    assert [decrypt(t, KEYS, context="account_holder") for t in out[:2]] == ["Ana Lopez"] * 2


@pytest.mark.parametrize(
    ("keys", "context"),
    [(KeyRing.for_demo(), "account_holder"), (KEYS, "other_field")],
)
def test_when_decrypted_with_wrong_key_or_context_then_refused(keys: KeyRing, context: str) -> None:
    token = (
        build({"operator": "encrypt", "context": "account_holder"}, keys=KEYS)
        .operate(pa.array(["x"]))[0]
        .as_py()
    )
    with pytest.raises(InputValidationError, match="decrypt_failed"):
        decrypt(token, keys, context=context)


# --- presidio ------------------------------------------------------------------------------------
def test_when_presidio_applied_then_free_text_pii_replaced_and_counted() -> None:
    op = build({"operator": "presidio", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"]})
    assert isinstance(op, PresidioRedact)
    column, counts = op.operate_with_counts(
        pa.array(["mail ana@gmail.com or call 212-555-0199", None, "pothole again"])
    )
    assert column.to_pylist() == [
        "mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>",
        None,
        "pothole again",
    ]
    assert dict(counts) == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_when_two_presidio_operators_ask_same_entities_then_they_share_one_engine() -> None:
    spec = {"operator": "presidio", "entities": ["PHONE_NUMBER", "EMAIL_ADDRESS"]}
    first, second = build(spec), build({**spec, "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"]})
    assert isinstance(first, PresidioRedact) and isinstance(second, PresidioRedact)
    assert first.engine is second.engine
