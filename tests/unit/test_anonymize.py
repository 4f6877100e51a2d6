"""RecordAnonymizer: a plan applied to whole batches, fail-closed, with counts-only stats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import h3
import pyarrow as pa
import pytest

from citysieve.errors import ConfigurationError, InputValidationError, PolicyError
from citysieve.keys import KeyRing
from transforms.anonymize import RecordAnonymizer

KEYS = KeyRing.for_demo()
WIFI_PLAN: dict[str, dict[str, Any]] = {
    "event_id": {"operator": "keep"},
    "observed_at": {"operator": "generalize", "kind": "time_bucket", "size": "PT15M"},
    "mac": {"operator": "pseudonymize"},
    "rssi": {"operator": "keep"},
}


def wifi(**overrides: Any) -> RecordAnonymizer:
    options: dict[str, Any] = {
        "locations": {"h3_cell": ("lat", "lon", 9)},
        "keys": KEYS,
        "time_field": "observed_at",
        "dataset": "wifi_presence",
        "pii_types": {"mac": "MAC_ADDRESS"},
        "pseudonym_period": "P1D",
        **overrides,
    }
    return RecordAnonymizer(WIFI_PLAN, **options)


def events() -> list[dict[str, Any]]:
    return [
        {
            "event_id": "e1",
            "sensor_id": "s-17",
            "observed_at": "2024-05-14T12:07:00Z",
            "mac": "00:1A:2B:3C:4D:5E",
            "rssi": -61,
            "lat": 40.7128,
            "lon": -74.006,
        },
        {
            "event_id": "e2",
            "sensor_id": "s-17",
            "observed_at": "2024-05-14T12:14:59Z",
            "mac": "001a.2b3c.4d5e",
            "rssi": -70,
            "lat": 40.7130,
            "lon": -74.007,
        },
        {
            "event_id": "e3",
            "sensor_id": "s-18",
            "observed_at": "2024-05-15T00:00:01Z",
            "mac": "00-1a-2b-3c-4d-5e",
            "rssi": None,
            "lat": None,
            "lon": -74.0,
        },
    ]


def test_when_wifi_batch_anonymized_then_columns_transformed_by_plan() -> None:
    result = wifi().anonymize(events())
    out = result.batch
    assert out.schema.names == ["event_id", "observed_at", "mac", "rssi", "h3_cell"]
    assert out.column("event_id").to_pylist() == ["e1", "e2", "e3"]
    assert out.column("observed_at").to_pylist() == [
        datetime(2024, 5, 14, 12, 0, tzinfo=UTC),
        datetime(2024, 5, 14, 12, 0, tzinfo=UTC),
        datetime(2024, 5, 15, 0, 0, tzinfo=UTC),
    ]
    macs = out.column("mac").to_pylist()
    assert macs[0] == macs[1] != macs[2]  # same device and day; next day a new token
    assert "00:1A:2B:3C:4D:5E" not in str(out.to_pylist())
    assert out.column("h3_cell").to_pylist() == [
        h3.latlng_to_cell(40.7128, -74.006, 9),
        h3.latlng_to_cell(40.7130, -74.007, 9),
        None,
    ]
    assert out.column("rssi").to_pylist() == [-61, -70, None]


def test_when_batch_anonymized_then_stats_count_pii_and_name_dropped_fields() -> None:
    stats = wifi().anonymize(events()).stats
    assert stats.to_dict() == {
        "rows": 3,
        "pii_found": {"MAC_ADDRESS": 3},
        "fields_transformed": {
            "event_id": "keep",
            "observed_at": "generalize",
            "mac": "pseudonymize",
            "rssi": "keep",
            "h3_cell": "h3(res 9)",
        },
        "fields_dropped": ["sensor_id"],  # not in the plan: fail-closed
    }


def test_when_record_batch_given_then_same_result_as_records() -> None:
    anonymizer = wifi()
    batch = pa.RecordBatch.from_pylist(events())
    assert anonymizer.anonymize(batch).batch.equals(anonymizer.anonymize(events()).batch)


def test_when_free_text_in_plan_then_only_it_meets_nlp_and_stats_count_entities() -> None:
    anonymizer = RecordAnonymizer(
        {
            "request_id": {"operator": "pseudonymize", "period": "never"},
            "description": {"operator": "presidio", "entities": ["PHONE_NUMBER", "EMAIL_ADDRESS"]},
            "reporter_phone": {"operator": "drop"},
            "category": {"operator": "keep"},
        },
        keys=KEYS,
        dataset="service_requests",
        pii_types={"reporter_phone": "PHONE_NUMBER"},
    )
    result = anonymizer.anonymize(
        [
            {
                "request_id": "R-1",
                "description": "call 212-555-0199 or ana@gmail.com",
                "reporter_phone": "212-555-0199",
                "category": "Noise",
            },
            {"request_id": "R-2", "description": None, "reporter_phone": None, "category": "Rats"},
        ]
    )
    assert result.batch.schema.names == ["request_id", "description", "category"]
    assert result.batch.column("description").to_pylist() == [
        "call <PHONE_NUMBER> or <EMAIL_ADDRESS>",
        None,
    ]
    # One phone in the text, one in the dropped reporter_phone field: both are PII found.
    assert result.stats.pii_found == {"PHONE_NUMBER": 2, "EMAIL_ADDRESS": 1}
    assert result.stats.fields_transformed["reporter_phone"] == "drop"


def test_when_output_schema_given_then_batch_cast_to_it() -> None:
    schema = pa.schema(
        [
            ("event_id", pa.string()),
            ("observed_at", pa.timestamp("us", tz="UTC")),
            ("mac", pa.string()),
            ("rssi", pa.int32()),
            ("h3_cell", pa.string()),
        ]
    )
    out = wifi(output_schema=schema).anonymize(events()).batch
    assert out.schema == schema


def test_when_field_absent_from_every_record_then_column_is_null() -> None:
    records = [{k: v for k, v in e.items() if k != "rssi"} for e in events()]
    assert wifi().anonymize(records).batch.column("rssi").null_count == 3


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"time_field": None}, ConfigurationError, "give time_field"),
        ({"dataset": None}, PolicyError, "dataset: Field required"),
        (
            {"locations": {"h3_cell": ("lat", "lon", 99)}},
            PolicyError,
            "H3 resolution must be 0..15",
        ),
        ({"keys": None}, ConfigurationError, "needs keys"),
    ],
)
def test_when_anonymizer_misconfigured_then_refused_at_build(
    overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        wifi(**overrides)


def test_when_event_time_missing_then_batch_refused_for_the_dlq() -> None:
    records = events()
    records[1]["observed_at"] = None
    with pytest.raises(InputValidationError, match="missing_time"):
        wifi().anonymize(records)
