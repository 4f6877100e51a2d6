"""The classifier: declared classes, undeclared fields (fail safe), and record combinations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from citysieve.policy import Classification, Role, load_policies, load_policy, tier_schemas
from tests.unit.policy_fixtures import write_dataset
from transforms.classify import (
    SAMPLE_LIMIT,
    FieldDescriptor,
    classify_fields,
    classify_undeclared,
    name_hints,
    record_class,
    schema_record_class,
)

PUBLIC, SENSITIVE, PRIVATE, CONFIDENTIAL = (
    Classification.PUBLIC,
    Classification.SENSITIVE,
    Classification.PRIVATE,
    Classification.CONFIDENTIAL,
)


class FakeScanner:
    """A ValueScanner that finds what it is told to, and remembers what it was shown."""

    def __init__(self, found: set[str]) -> None:
        self.found = found
        self.seen: list[str] = []

    def entity_types(self, texts: Sequence[str]) -> set[str]:
        self.seen.extend(texts)
        return set(self.found)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mac", {"MAC_ADDRESS"}),
        ("mac_address", {"MAC_ADDRESS"}),
        ("deviceMacAddress", {"MAC_ADDRESS"}),
        ("email_address", {"EMAIL_ADDRESS"}),
        ("reporterPhoneNumber", {"PHONE_NUMBER"}),
        ("plate", {"US_LICENSE_PLATE"}),
        ("full_name", {"PERSON"}),
        ("home_address", {"STREET_ADDRESS"}),
        ("latitude", {"LOCATION"}),
        ("gps_lon", {"LOCATION"}),
        ("ssn", {"US_SSN"}),
        ("imei", {"IMEI"}),
        ("client_ip", {"IP_ADDRESS"}),
        ("userId", {"ACCOUNT_ID"}),
        ("account", {"ACCOUNT_ID"}),
        ("card_number", {"CREDIT_CARD"}),
        ("zip", set()),
        ("description", set()),
        ("recipient", set()),
        ("temperature", set()),
    ],
)
def test_when_a_name_hints_pii_then_name_hints_names_the_type(
    name: str, expected: set[str]
) -> None:
    assert name_hints(name) == expected


@pytest.mark.parametrize(
    ("name", "found", "expected_class", "expected_types"),
    [
        ("extra", set(), CONFIDENTIAL, set()),  # nothing known: worst case
        ("extra", {"PHONE_NUMBER"}, PRIVATE, {"PHONE_NUMBER"}),  # PII found in values
        ("caller_phone", set(), PRIVATE, {"PHONE_NUMBER"}),  # PII hinted by the name
        ("caller_phone", {"PERSON"}, PRIVATE, {"PHONE_NUMBER", "PERSON"}),
        ("extra", {"US_SSN"}, CONFIDENTIAL, {"US_SSN"}),  # high-risk type
        ("card", set(), CONFIDENTIAL, {"CREDIT_CARD"}),
    ],
)
def test_when_a_field_is_undeclared_then_it_is_classified_fail_safe(
    name: str,
    found: set[str],
    expected_class: Classification,
    expected_types: set[str],
) -> None:
    field = classify_undeclared("tiny", name, ["a value", None], FakeScanner(found))

    assert field.classification is expected_class
    assert field.pii_types == expected_types
    assert field.classification.at_least(PRIVATE)


def test_when_there_is_no_scanner_then_names_alone_decide() -> None:
    assert classify_undeclared("tiny", "email", ["x@y.example"]).classification is PRIVATE
    assert classify_undeclared("tiny", "blob", ["x@y.example"]).classification is CONFIDENTIAL


def test_when_values_are_scanned_then_nulls_are_skipped_and_the_sample_is_bounded() -> None:
    scanner = FakeScanner(set())
    values: list[object] = [None, 42, {"nested": "text"}, *["v"] * (SAMPLE_LIMIT + 10)]

    classify_undeclared("tiny", "extra", values, scanner)

    assert scanner.seen[:2] == ["42", '{"nested": "text"}']
    assert len(scanner.seen) == SAMPLE_LIMIT


def test_when_an_undeclared_field_is_found_then_the_audit_event_never_holds_a_value() -> None:
    phone = "+1 212 555 0199"
    field = classify_undeclared("tiny", "extra", [phone], FakeScanner({"PHONE_NUMBER"}))

    event = field.audit_event()

    assert event == {
        "type": "undeclared_field",
        "dataset": "tiny",
        "field": "extra",
        "classification": "private",
        "pii_types": ["PHONE_NUMBER"],
        "action": "withheld from the anon and open tiers until declared in the schema",
    }
    assert phone not in json.dumps(event)


def test_when_fields_arrive_then_declared_keep_their_class_and_undeclared_are_withheld(
    tmp_path: Path,
) -> None:
    write_dataset(tmp_path)
    schema = load_policy("tiny", tmp_path / "policies").source_schema
    samples = {"mac": ["aa:bb:cc:dd:ee:ff"], "extra": ["?"], "owner_email": ["a@b.example"]}

    classes = classify_fields(schema, samples, FakeScanner(set()))

    assert classes.declared == {f.name: f.classification for f in schema.fields}
    assert classes.declared["mac"] is PRIVATE
    assert {(f.name, f.classification) for f in classes.undeclared} == {
        ("extra", CONFIDENTIAL),
        ("owner_email", PRIVATE),
    }
    assert classes.withheld == {"extra", "owner_email"}
    assert [e["field"] for e in classes.audit_events()] == ["extra", "owner_email"]
    assert classes.record.classification is CONFIDENTIAL


def _d(
    name: str, cls: Classification, role: Role | None, pii: str | None = None
) -> FieldDescriptor:
    return FieldDescriptor(name, cls, role, pii)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # the highest field class
        ([_d("a", PUBLIC, Role.PUBLIC), _d("b", SENSITIVE, Role.MEASURE)], SENSITIVE),
        ([_d("a", CONFIDENTIAL, Role.DIRECT_IDENTIFIER)], CONFIDENTIAL),
        ([], PUBLIC),
        # place + time + key, each Public alone, together Private
        (
            [
                _d("h3_cell", PUBLIC, Role.QUASI_IDENTIFIER),
                _d("observed_at", PUBLIC, Role.TIME),
                _d("device", PUBLIC, Role.DIRECT_IDENTIFIER),
            ],
            PRIVATE,
        ),
        # any two of the three are not raised
        ([_d("lat", PUBLIC, Role.PUBLIC), _d("observed_at", PUBLIC, Role.TIME)], PUBLIC),
        (
            [_d("observed_at", PUBLIC, Role.TIME), _d("device", PUBLIC, Role.DIRECT_IDENTIFIER)],
            PUBLIC,
        ),
        # a place named by its PII type
        (
            [
                _d("where", SENSITIVE, Role.QUASI_IDENTIFIER, "STREET_ADDRESS"),
                _d("t", SENSITIVE, Role.TIME),
                _d("k", SENSITIVE, Role.DIRECT_IDENTIFIER),
            ],
            PRIVATE,
        ),
        # undeclared fields: names tell place, time and key
        (
            [_d("gps_lat", PUBLIC, None), _d("seen_at", PUBLIC, None), _d("imei", PUBLIC, None)],
            PRIVATE,
        ),
        # the combination never lowers a class
        (
            [
                _d("zip", CONFIDENTIAL, Role.QUASI_IDENTIFIER),
                _d("read_at", PUBLIC, Role.TIME),
                _d("meter", PUBLIC, Role.DIRECT_IDENTIFIER),
            ],
            CONFIDENTIAL,
        ),
    ],
)
def test_when_fields_combine_then_the_record_class_is_raised(
    fields: list[FieldDescriptor], expected: Classification
) -> None:
    assert record_class(fields).classification is expected


def test_when_the_combination_raises_then_the_reason_names_the_fields() -> None:
    fields = [
        _d("h3_cell", PUBLIC, Role.QUASI_IDENTIFIER),
        _d("observed_at", PUBLIC, Role.TIME),
        _d("subject_pseudonym", SENSITIVE, Role.DIRECT_IDENTIFIER),
    ]

    assert record_class(fields).reason == (
        "highest field class sensitive; place (h3_cell), time (observed_at) and a key "
        "(subject_pseudonym) together"
    )


@pytest.mark.parametrize(
    ("dataset", "raw", "anon"),
    [
        ("wifi_presence", PRIVATE, PRIVATE),
        ("alpr_reads", CONFIDENTIAL, PRIVATE),
        ("air_quality", PUBLIC, PUBLIC),
        ("service_requests", PRIVATE, PRIVATE),
        ("micromobility_trips", PRIVATE, PRIVATE),
        ("smart_meter", PRIVATE, PRIVATE),
    ],
)
def test_when_applied_to_derived_schemas_then_open_rows_are_public(
    dataset: str, raw: Classification, anon: Classification
) -> None:
    schemas = tier_schemas(load_policies()[dataset])

    assert schema_record_class(schemas.raw_avro).classification is raw
    assert schema_record_class(schemas.anon_avro).classification is anon
    assert schema_record_class(schemas.open_avro).classification is PUBLIC
