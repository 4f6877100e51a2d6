"""The raw -> anon transform of one batch, with the shipped policies and no broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretBytes

from citysieve.clock import FakeClock
from citysieve.errors import InputValidationError
from citysieve.keys import KeyRing
from citysieve.policy.derive import tier_schemas
from citysieve.policy.loader import load_policy
from connectors.avro_wire import AvroDecoder, AvroEncoder
from connectors.simulator import Simulator
from transforms.pipeline import HEADER_OFFSET, HEADER_REASON, HEADER_TOPIC, RawInput, RawProcessor

KEYS = KeyRing(pseudonym=SecretBytes(b"k" * 32), encryption=SecretBytes(b"e" * 32))
START = datetime(2026, 11, 21, 8, tzinfo=UTC)


def _processor(dataset: str, keys: KeyRing = KEYS) -> tuple[RawProcessor, AvroDecoder]:
    policy = load_policy(dataset)
    schemas = tier_schemas(policy)
    processor = RawProcessor(
        policy,
        keys=keys,
        encode=AvroEncoder(schemas.anon_avro).encode,
        clock=FakeClock(START),
        schemas=schemas,
    )
    return processor, AvroDecoder([schemas.anon_avro])


def _inputs(values: list[bytes], topic: str = "iot.raw.x") -> list[RawInput]:
    return [RawInput(v, b"k", topic, 3, 100 + i) for i, v in enumerate(values)]


def _wifi(**changes: Any) -> bytes:
    event = {
        "event_id": "e1",
        "sensor_id": "s-17",
        "observed_at": "2026-11-21T08:03:10Z",
        "mac": "a4:5e:60:d1:22:9f",
        "rssi": -61,
        "lat": 40.7512,
        "lon": -73.9851,
    }
    return json.dumps({**event, **changes}).encode()


def test_when_mac_arrives_in_any_format_then_one_subject_pseudonym_keys_the_record() -> None:
    processor, decoder = _processor("wifi_presence")
    formats = ["a4:5e:60:d1:22:9f", "A4-5E-60-D1-22-9F", "a45e.60d1.229f"]
    outcome = processor.process(
        _inputs([_wifi(event_id=f"e{i}", mac=m) for i, m in enumerate(formats)])
    )
    assert outcome.dead == []
    records = [decoder.decode(o.value or b"") for o in outcome.anon]
    assert len({r["subject_pseudonym"] for r in records}) == 1
    assert {o.key for o in outcome.anon} == {records[0]["subject_pseudonym"].encode()}
    assert [r["event_id"] for r in records] == ["e0", "e1", "e2"]
    assert "mac" not in records[0] and "lat" not in records[0]
    assert records[0]["observed_at"] == datetime(2026, 11, 21, 8, 3, tzinfo=UTC)


def test_when_the_key_differs_then_pseudonyms_differ() -> None:
    other = KeyRing(pseudonym=SecretBytes(b"x" * 32), encryption=SecretBytes(b"e" * 32))
    first, decoder = _processor("wifi_presence")
    second, _ = _processor("wifi_presence", keys=other)
    a = decoder.decode(first.process(_inputs([_wifi()])).anon[0].value or b"")
    b = decoder.decode(second.process(_inputs([_wifi()])).anon[0].value or b"")
    assert a["subject_pseudonym"] != b["subject_pseudonym"]


def test_when_events_are_malformed_then_dead_letters_keep_bytes_and_say_why() -> None:
    processor, _ = _processor("wifi_presence")
    bad = [b"{truncated", _wifi(rssi="strong"), _wifi()]
    outcome = processor.process(_inputs(bad, topic="iot.raw.wifi_presence"))
    assert len(outcome.anon) == 1
    assert [d.value for d in outcome.dead] == bad[:2]
    headers = [dict(d.headers) for d in outcome.dead]
    assert [h[HEADER_REASON] for h in headers] == [b"not_json", b"wrong_type"]
    assert [h[HEADER_OFFSET] for h in headers] == [b"100", b"101"]
    assert headers[0][HEADER_TOPIC] == b"iot.raw.wifi_presence"
    assert outcome.dlq_reasons == {"not_json": 1, "wrong_type": 1}


def test_when_a_field_is_undeclared_then_it_is_withheld_and_audited_once() -> None:
    processor, decoder = _processor("wifi_presence")
    first = processor.process(_inputs([_wifi(owner_phone="212-555-0199")]))
    again = processor.process(_inputs([_wifi(owner_phone="212-555-0100")]))
    [event] = [a for a in first.audit if a["type"] == "undeclared_field"]
    assert event["field"] == "owner_phone"
    assert event["classification"] == "private"
    assert "212" not in json.dumps(event)
    assert [a for a in again.audit if a["type"] == "undeclared_field"] == []
    assert b"212-555" not in (first.anon[0].value or b"")
    assert "owner_phone" not in decoder.decode(first.anon[0].value or b"")


def test_when_one_record_fails_in_anonymization_then_only_it_goes_to_the_dlq(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processor, _ = _processor("wifi_presence")
    real = processor.anonymizer.anonymize

    def fragile(batch: Any) -> Any:
        if "e-bad" in batch.column("event_id").to_pylist():
            raise InputValidationError("bad_identifier", "field 'mac' does not normalize")
        return real(batch)

    monkeypatch.setattr(processor.anonymizer, "anonymize", fragile)
    outcome = processor.process(_inputs([_wifi(event_id="e-ok"), _wifi(event_id="e-bad")]))
    assert len(outcome.anon) == 1
    [dead] = outcome.dead
    assert dict(dead.headers)[HEADER_REASON] == b"bad_identifier"


def _simulated(dataset: str, n: int) -> Iterator[Any]:
    return Simulator(dataset, seed=11, start=START, population=40).events(n)


@pytest.mark.parametrize(
    "dataset",
    [
        "wifi_presence",
        "alpr_reads",
        "air_quality",
        "micromobility_trips",
        "smart_meter",
    ],
)
def test_when_structured_events_pass_then_no_raw_identifier_is_left_in_the_bytes(
    dataset: str,
) -> None:
    processor, _ = _processor(dataset)
    events = list(_simulated(dataset, 200))
    outcome = processor.process(_inputs([e.value for e in events]))
    assert len(outcome.anon) == 200
    blob = b"\n".join((o.value or b"") + (o.key or b"") for o in outcome.anon)
    leaked = {i for e in events for i in e.identifiers if i.encode() in blob}
    assert leaked == set()
