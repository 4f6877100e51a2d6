"""Derived schemas: the anon record and the aggregate row come from the source schema + policy."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from citysieve.policy import (
    Classification,
    aggregate_row_schema,
    anon_record_schema,
    arrow_schema,
    load_policies,
    tier_schemas,
)
from citysieve.policy.durations import format_duration, humanize_duration, parse_duration

POLICIES = load_policies()


def _names(schema: dict[str, object]) -> list[str]:
    return [field["name"] for field in schema["fields"]]  # type: ignore[index]


@pytest.mark.parametrize(
    ("dataset", "columns"),
    [
        (
            "wifi_presence",
            ["window_start", "window_end", "h3_cell", "h3_resolution", "events", "subjects",
             "rssi_mean"],
        ),
        (
            "alpr_reads",
            ["window_start", "window_end", "h3_cell", "h3_resolution", "vehicle_make", "events",
             "subjects", "speed_kmh_count", "speed_kmh_mean", "speed_kmh_p50", "speed_kmh_p90"],
        ),
        (
            "air_quality",
            ["window_start", "window_end", "h3_cell", "h3_resolution", "events", "pm25_mean",
             "pm25_min", "pm25_max", "pm25_p50", "pm25_p90", "no2_mean", "no2_max",
             "temperature_c_mean", "temperature_c_min", "temperature_c_max", "humidity_mean"],
        ),
        (
            "service_requests",
            ["window_start", "window_end", "h3_cell", "h3_resolution", "category", "events",
             "subjects"],
        ),
        (
            "micromobility_trips",
            ["window_start", "window_end", "origin_h3_cell", "origin_h3_resolution",
             "destination_h3_cell", "destination_h3_resolution", "events", "subjects",
             "distance_m_mean", "distance_m_p50", "fare_usd_mean", "fare_usd_p50"],
        ),
        (
            "smart_meter",
            ["window_start", "window_end", "zip", "events", "subjects", "kwh_sum", "kwh_mean",
             "kwh_p50", "kwh_p90"],
        ),
    ],
)  # fmt: skip
def test_when_the_aggregate_row_is_derived_then_it_has_the_contract_columns(
    dataset: str, columns: list[str]
) -> None:
    row = aggregate_row_schema(POLICIES[dataset])

    assert _names(row) == columns
    assert all(field["classification"] == "public" for field in row["fields"])
    assert all(field["doc"] for field in row["fields"])


@pytest.mark.parametrize(
    ("dataset", "columns"),
    [
        ("wifi_presence", ["event_id", "subject_pseudonym", "sensor_id", "observed_at", "rssi",
                           "h3_cell"]),
        ("air_quality", ["event_id", "sensor_id", "observed_at", "h3_cell", "pm25", "no2",
                         "temperature_c", "humidity"]),
        ("service_requests", ["event_id", "subject_pseudonym", "request_id", "created_at",
                              "category", "description", "h3_cell"]),
        ("micromobility_trips", ["event_id", "subject_pseudonym", "trip_id", "provider",
                                 "vehicle_id", "started_at", "ended_at", "origin_h3_cell",
                                 "destination_h3_cell", "distance_m", "fare_usd"]),
        ("smart_meter", ["event_id", "subject_pseudonym", "zip", "read_at", "kwh"]),
    ],
)  # fmt: skip
def test_when_the_anon_record_is_derived_then_identifiers_are_gone_or_pseudonymized(
    dataset: str, columns: list[str]
) -> None:
    record = anon_record_schema(POLICIES[dataset])

    assert _names(record) == columns
    for field in record["fields"]:
        assert field["doc"]
        assert not Classification(field["classification"]).at_least(Classification.PRIVATE)


def test_when_a_field_is_transformed_then_its_anon_type_and_doc_say_so() -> None:
    fields = {f["name"]: f for f in anon_record_schema(POLICIES["service_requests"])["fields"]}

    assert fields["subject_pseudonym"]["type"] == "string"
    assert fields["subject_pseudonym"]["role"] == "direct_identifier"
    assert fields["description"]["type"] == ["null", "string"]
    assert fields["description"]["classification"] == "sensitive"
    assert "placeholders such as <PERSON>" in fields["description"]["doc"]
    assert fields["request_id"]["doc"].endswith(
        "replaced by a keyed pseudonym (HMAC-SHA256) that cannot be reversed."
    )
    assert fields["created_at"]["type"] == {"type": "long", "logicalType": "timestamp-micros"}


def test_when_arrow_schemas_are_derived_then_types_follow_the_avro_types() -> None:
    schemas = tier_schemas(POLICIES["micromobility_trips"])

    raw, row = schemas.raw_arrow, schemas.open_arrow

    assert raw.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert raw.field("distance_m").type == pa.float64()
    assert not raw.field("distance_m").nullable
    assert raw.field("fare_usd").nullable
    assert raw.field("rider_id").metadata[b"classification"] == b"private"
    assert row.field("origin_h3_resolution").type == pa.int64()
    assert row.field("events").type == pa.int64()
    assert row.field("fare_usd_mean").metadata[b"unit"] == b"USD"
    assert row.metadata[b"citysieve.tier"] == b"open"


@pytest.mark.parametrize(
    ("avro_type", "arrow_type", "nullable"),
    [
        ("string", pa.string(), False),
        ("int", pa.int64(), False),
        ("long", pa.int64(), False),
        ("float", pa.float64(), False),
        ("double", pa.float64(), False),
        ("boolean", pa.bool_(), False),
        ({"type": "long", "logicalType": "timestamp-millis"}, pa.timestamp("us", tz="UTC"), False),
        (["null", "string"], pa.string(), True),
        (["null", {"type": "long", "logicalType": "timestamp-micros"}], pa.timestamp("us", "UTC"),
         True),
    ],
)  # fmt: skip
def test_when_an_avro_field_is_converted_then_the_arrow_type_matches(
    avro_type: object, arrow_type: pa.DataType, nullable: bool
) -> None:
    schema = arrow_schema({"fields": [{"name": "x", "type": avro_type, "doc": "x"}]})

    assert schema.field("x").type == arrow_type
    assert schema.field("x").nullable is nullable


@pytest.mark.parametrize(
    ("text", "delta", "canonical", "words"),
    [
        ("PT15M", timedelta(minutes=15), "PT15M", "15 minutes"),
        ("PT24H", timedelta(hours=24), "P1D", "1 day"),
        ("P30D", timedelta(days=30), "P30D", "30 days"),
        ("P1W", timedelta(days=7), "P7D", "7 days"),
        ("PT1H30M", timedelta(minutes=90), "PT1H30M", "1 hour 30 minutes"),
        ("P3650D", timedelta(days=3650), "P3650D", "3650 days (10 years)"),
        ("PT0S", timedelta(0), "PT0S", "no time"),
    ],
)
def test_when_a_duration_is_parsed_then_it_round_trips(
    text: str, delta: timedelta, canonical: str, words: str
) -> None:
    assert parse_duration(text) == delta
    assert format_duration(delta) == canonical
    assert humanize_duration(delta) == words


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P1Y", "'P1Y' uses years or months"),
        ("P2M", "'P2M' uses years or months"),
        ("15 minutes", "is not an ISO-8601 duration"),
        ("P", "is not an ISO-8601 duration"),
        ("PT", "is not an ISO-8601 duration"),
        ("P1DT", "is not an ISO-8601 duration"),
    ],
)
def test_when_a_duration_is_not_iso_days_or_less_then_it_is_refused(
    text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)
