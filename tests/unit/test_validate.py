"""Parsing and validation of raw events: typed records out, explicit rejections with reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.avro_wire import AvroDecoder, AvroEncoder
from transforms.validate import EventParser

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Probe",
    "citysieve.dataset": "probe",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "observed_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "rssi", "type": "int", "minimum": -120, "maximum": 0},
        {"name": "lat", "type": "double", "minimum": -90, "maximum": 90},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}
GOOD: dict[str, Any] = {
    "event_id": "e1",
    "observed_at": "2026-11-21T10:00:00Z",
    "rssi": -60,
    "lat": 40.7,
    "note": None,
}


def _with(**changes: Any) -> bytes:
    event = {**GOOD, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not _DROP}).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b"", "empty", "the message has no value"),
        (b'{"event_id": "e1", "observed', "not_json", "not valid JSON (line 1)"),
        (b"[1, 2]", "not_an_object", "the JSON value is not an object"),
        (_with(rssi=_DROP), "missing_field", "required field 'rssi' is missing or null"),
        (_with(rssi=None), "missing_field", "required field 'rssi' is missing or null"),
        (_with(rssi="strong"), "wrong_type", "field 'rssi' should be an integer"),
        (_with(rssi=True), "wrong_type", "field 'rssi' should be an integer"),
        (_with(lat="north"), "wrong_type", "field 'lat' should be a number"),
        (_with(event_id=7), "wrong_type", "field 'event_id' should be a string"),
        (
            _with(observed_at="yesterday"),
            "bad_timestamp",
            "field 'observed_at' is not an ISO-8601 timestamp",
        ),
        (
            _with(observed_at="2026-11-21T10:00:00"),
            "bad_timestamp",
            "field 'observed_at' has no time zone (times are ISO-8601 UTC)",
        ),
        (_with(rssi=12), "out_of_range", "field 'rssi' is above 0"),
        (_with(lat=-91.0), "out_of_range", "field 'lat' is below -90"),
    ],
)
def test_when_event_is_bad_then_it_is_rejected_with_reason_and_no_value_in_detail(
    raw: bytes, reason: str, detail: str
) -> None:
    result = EventParser(SCHEMA).parse_batch([raw])
    assert result.records == []
    [rejection] = result.rejections
    assert (rejection.index, rejection.reason, rejection.detail) == (0, reason, detail)


def test_when_event_is_good_then_values_are_typed_and_times_utc() -> None:
    offset = _with(observed_at="2026-11-21T12:00:00+02:00")
    result = EventParser(SCHEMA).parse_batch([_with(), offset])
    assert result.rejections == []
    assert result.indexes == [0, 1]
    first, second = result.records
    assert first == {**GOOD, "observed_at": datetime(2026, 11, 21, 10, tzinfo=UTC)}
    assert second["observed_at"] == datetime(2026, 11, 21, 10, tzinfo=UTC)


def test_when_batch_mixes_good_and_bad_then_indexes_point_back_to_input() -> None:
    result = EventParser(SCHEMA).parse_batch([b"nope", _with(), None, _with(event_id="e2")])
    assert result.indexes == [1, 3]
    assert [r.index for r in result.rejections] == [0, 2]


def test_when_fields_are_undeclared_then_they_are_sampled_not_kept() -> None:
    parser = EventParser(SCHEMA, sample_size=2)
    raws = [_with(owner_phone=f"212-555-01{i:02d}") for i in range(5)]
    result = parser.parse_batch(raws)
    assert all("owner_phone" not in r for r in result.records)
    assert result.undeclared == {"owner_phone": ["212-555-0100", "212-555-0101"]}


def test_when_event_is_framed_avro_then_it_is_decoded_and_validated() -> None:
    avro_schema = {**SCHEMA, "fields": [dict(f) for f in SCHEMA["fields"]]}
    encoder = AvroEncoder(avro_schema)
    record = {**GOOD, "observed_at": datetime(2026, 11, 21, 10, tzinfo=UTC)}
    parser = EventParser(SCHEMA, avro=AvroDecoder([avro_schema]))
    result = parser.parse_batch([encoder.encode(record), encoder.encode({**record, "rssi": 5})])
    assert result.records == [record]
    assert [r.reason for r in result.rejections] == ["out_of_range"]
