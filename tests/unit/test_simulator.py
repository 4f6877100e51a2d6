"""The synthetic event simulator: shape, determinism, recurrence, PII, defects, CLI."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from citysieve.errors import ConfigurationError
from connectors.simulator import (
    DATASETS,
    DEFECTS,
    FIELDS,
    LAT_FIELDS,
    LAT_RANGE,
    LON_RANGE,
    NULLABLE,
    TIME_FIELDS,
    SimEvent,
    Simulator,
)
from streams.cli import main

START = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)  # 08:00 in New York

NUMBERS = frozenset(
    {
        "rssi",
        "speed_kmh",
        "pm25",
        "no2",
        "temperature_c",
        "humidity",
        "distance_m",
        "fare_usd",
        "kwh",
        "lat",
        "lon",
        "start_lat",
        "start_lon",
        "end_lat",
        "end_lon",
    }
)
LON_FIELDS = ("lon", "start_lon", "end_lon")
SUBJECTS = {
    "wifi_presence": "mac",
    "alpr_reads": "plate",
    "service_requests": "reporter_name",
    "micromobility_trips": "rider_id",
    "smart_meter": "meter_id",
}
MAC_SHAPES = {
    "colon": re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"),
    "dash": re.compile(r"^[0-9a-fA-F]{2}(-[0-9a-fA-F]{2}){5}$"),
    "cisco": re.compile(r"^[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4}){2}$"),
}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+\w")
PHONE = re.compile(r"(?:\+1 )?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}")


def simulate(dataset: str, n: int, **kwargs: Any) -> list[SimEvent]:
    return list(Simulator(dataset, start=START, **kwargs).events(n))


def utc_time(text: object) -> datetime:
    assert isinstance(text, str)
    assert text.endswith(("Z", "+00:00")), text
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def problem(dataset: str, value: bytes) -> str | None:
    """A strict reading of the reference form: what is wrong with ``value``, or None."""
    try:
        record = json.loads(value)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return "not_json"
    if not isinstance(record, dict):
        return "not_object"
    if set(record) != set(FIELDS[dataset]):
        return "missing_field"
    for name, field_value in record.items():
        if field_value is None:
            if name not in NULLABLE[dataset]:
                return "wrong_type"
        elif name in NUMBERS:
            if isinstance(field_value, bool) or not isinstance(field_value, int | float):
                return "wrong_type"
        elif not isinstance(field_value, str):
            return "wrong_type"
    for name in TIME_FIELDS[dataset]:
        try:
            utc_time(record[name])
        except (AssertionError, ValueError):
            return "bad_timestamp"
    if any(not -90 <= record[f] <= 90 for f in LAT_FIELDS[dataset]):
        return "lat_out_of_range"
    return None


def canonical_mac(mac: str) -> str:
    return re.sub(r"[^0-9a-f]", "", mac.lower())


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_events_are_valid_then_they_are_objects_with_exactly_the_reference_fields(
    dataset: str,
) -> None:
    events = simulate(dataset, 300)
    for event in events:
        assert event.valid and event.defect is None and event.dataset == dataset
        assert problem(dataset, event.value) is None
        record = json.loads(event.value)
        assert list(record) == list(FIELDS[dataset])
        assert record["event_id"] == event.event_id
        assert uuid.UUID(record["event_id"]).version == 4
        for name in TIME_FIELDS[dataset]:
            assert START - timedelta(hours=3) <= utc_time(record[name]) <= event.event_time
        for name in LAT_FIELDS[dataset]:
            assert LAT_RANGE[0] <= record[name] <= LAT_RANGE[1]
        for name in set(LON_FIELDS) & set(record):
            assert LON_RANGE[0] <= record[name] <= LON_RANGE[1]


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_time_advances_then_event_times_are_in_order_from_the_start(dataset: str) -> None:
    times = [e.event_time for e in simulate(dataset, 500)]
    assert times == sorted(times)
    assert times[0] > START and times[-1] > times[0]


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_the_seed_is_the_same_then_the_bytes_are_the_same(dataset: str) -> None:
    first = simulate(dataset, 200, seed=11, malformed=0.2)
    again = simulate(dataset, 200, seed=11, malformed=0.2)
    other = simulate(dataset, 200, seed=12, malformed=0.2)
    assert [e.value for e in first] == [e.value for e in again]
    assert first == again
    assert [e.value for e in first] != [e.value for e in other]


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_events_are_asked_for_twice_then_the_stream_continues(dataset: str) -> None:
    sim = Simulator(dataset, start=START, seed=3)
    in_two_calls = [*sim.events(40), *sim.events(60)]
    assert in_two_calls == simulate(dataset, 100, seed=3)


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_some_events_are_malformed_then_the_others_are_unchanged(dataset: str) -> None:
    clean = simulate(dataset, 300)
    mixed = simulate(dataset, 300, malformed=0.3)
    kept = [(a, b) for a, b in zip(clean, mixed, strict=True) if b.valid]
    assert kept and all(a == b for a, b in kept)


@pytest.mark.parametrize(
    ("dataset", "share"),
    [(d, s) for d in DATASETS for s in (0.05, 0.3)],
)
def test_when_a_malformed_share_is_asked_then_it_is_roughly_honoured(
    dataset: str, share: float
) -> None:
    events = simulate(dataset, 1500, malformed=share)
    bad = [e for e in events if not e.valid]
    assert abs(len(bad) / len(events) - share) < 0.04


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_an_event_is_malformed_then_it_names_its_defect_and_is_invalid(
    dataset: str,
) -> None:
    events = simulate(dataset, 600, malformed=0.5)
    kinds = Counter[str]()
    for event in events:
        if event.valid:
            assert event.defect is None and problem(dataset, event.value) is None
            continue
        assert event.defect in DEFECTS
        kinds[event.defect] += 1
        assert problem(dataset, event.value) == event.defect
        assert b"\n" not in event.value
        if event.defect in ("not_json", "not_object"):
            assert event.event_id is None
    expected = set(DEFECTS) - ({"lat_out_of_range"} if not LAT_FIELDS[dataset] else set())
    assert set(kinds) == expected


@pytest.mark.parametrize(
    ("defect", "dataset", "field", "bad_value"),
    [
        ("wrong_type", "wifi_presence", "rssi", ("strong", "weak", "-67 dBm")),
        ("lat_out_of_range", "wifi_presence", "lat", (91.3, -90.5, 407.58, 180.0)),
        ("wrong_type", "smart_meter", "kwh", ("ERR", "--")),
    ],
)
def test_when_a_field_is_broken_then_it_is_broken_the_way_devices_break_it(
    defect: str, dataset: str, field: str, bad_value: tuple[object, ...]
) -> None:
    broken = [e for e in simulate(dataset, 800, malformed=0.5) if e.defect == defect]
    assert broken
    for event in broken:
        assert json.loads(event.value)[field] in bad_value


@pytest.mark.parametrize(
    ("dataset", "subject"), [(d, s) for d, s in SUBJECTS.items() if d != "smart_meter"]
)
def test_when_people_recur_then_few_subjects_account_for_many_events(
    dataset: str, subject: str
) -> None:
    records = [json.loads(e.value) for e in simulate(dataset, 2000, population=300)]
    values = [r[subject] for r in records if r[subject] is not None]
    if subject == "mac":
        values = [canonical_mac(v) for v in values]
    counts = Counter(values)
    assert len(counts) < len(values) / 2
    assert counts.most_common(1)[0][1] >= 10


def test_when_meters_are_read_in_turn_then_every_meter_recurs_as_often() -> None:
    meters = Counter(
        json.loads(e.value)["meter_id"] for e in simulate("smart_meter", 900, population=300)
    )
    assert len(meters) == 300 and set(meters.values()) == {3}


@pytest.mark.parametrize(("dataset", "subject"), SUBJECTS.items())
def test_when_the_population_is_small_then_subjects_stay_within_it(
    dataset: str, subject: str
) -> None:
    records = [json.loads(e.value) for e in simulate(dataset, 1500, population=25)]
    values = {r[subject] for r in records if r[subject] is not None}
    if subject == "mac":
        values = {canonical_mac(v) for v in values}
    assert 1 < len(values) <= 25


def test_when_devices_send_macs_then_every_format_appears_and_devices_appear_in_several() -> None:
    macs = [json.loads(e.value)["mac"] for e in simulate("wifi_presence", 2000)]
    shapes = {name for mac in macs for name, pattern in MAC_SHAPES.items() if pattern.match(mac)}
    assert shapes == set(MAC_SHAPES)
    assert {mac == mac.lower() for mac in macs} == {True, False}
    formats: dict[str, set[str]] = {}
    for mac in macs:
        formats.setdefault(canonical_mac(mac), set()).add(mac)
    assert all(len(canonical) == 12 for canonical in formats)
    assert any(len(written) > 1 for written in formats.values())


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_events_are_keyed_then_the_key_is_never_an_identifier(dataset: str) -> None:
    for event in simulate(dataset, 500, malformed=0.1):
        if event.key is not None:
            key = event.key.decode()
            assert all(identifier not in key for identifier in event.identifiers)


@pytest.mark.parametrize(
    ("dataset", "fields"),
    [
        ("wifi_presence", ("mac",)),
        ("alpr_reads", ("plate",)),
        ("air_quality", ()),
        ("micromobility_trips", ("rider_id",)),
        ("smart_meter", ("meter_id", "account_holder", "address")),
        ("service_requests", ("reporter_name", "reporter_phone", "reporter_email", "address")),
    ],
)
def test_when_identifiers_are_planted_then_each_is_in_the_event_exactly_as_sent(
    dataset: str, fields: tuple[str, ...]
) -> None:
    for event in simulate(dataset, 400):
        record = json.loads(event.value)
        for name in fields:
            if record[name] is not None:
                assert record[name] in event.identifiers
        assert all(identifier in event.value.decode() for identifier in event.identifiers)


def test_when_residents_write_311_descriptions_then_planted_pii_is_listed() -> None:
    events = simulate("service_requests", 1500)
    with_pii = without_pii = 0
    for event in events:
        record = json.loads(event.value)
        text = record["description"] or ""
        fields = {record[f] for f in ("reporter_name", "reporter_phone", "reporter_email")}
        in_text = [i for i in event.identifiers if i in text]
        # every identifier is a field value or was planted in the text
        assert all(i in fields or i == record["address"] or i in text for i in event.identifiers)
        for found in [*EMAIL.findall(text), *PHONE.findall(text)]:
            assert found in event.identifiers
        with_pii += bool(in_text)
        without_pii += not in_text
    assert with_pii > 200 and without_pii > 200


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        (r"\(\d{3}\) \d{3}-\d{4}", "phone (212) 555-0199"),
        (r"\b\d{3}-\d{3}-\d{4}\b", "phone 212-555-0199"),
        (r"\+1 \d{3} \d{3} \d{4}", "phone +1 212 555 0199"),
        (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "email"),
        (r"\b[A-Z]{3}[- ]?\d{4}\b", "NY plate"),
        (r"\b\d{1,4} [A-Z0-9][\w ]+ (?:St|Ave|Pl|Sq|Dr|Blvd)\b", "street address"),
    ],
)
def test_when_311_descriptions_carry_pii_then_each_kind_appears_and_is_listed(
    pattern: str, what: str
) -> None:
    hits = 0
    for event in simulate("service_requests", 2000):
        text = json.loads(event.value)["description"] or ""
        for match in re.finditer(pattern, text):
            hits += 1
            assert any(match.group() in i for i in event.identifiers), what
    assert hits >= 5, what


@pytest.mark.parametrize(
    ("dataset", "name"), [(d, f) for d in DATASETS for f in sorted(NULLABLE[d])]
)
def test_when_a_field_is_nullable_then_it_is_sometimes_null(dataset: str, name: str) -> None:
    values = [json.loads(e.value)[name] for e in simulate(dataset, 3000)]
    assert 0 < values.count(None) < len(values) * 0.8


@pytest.mark.parametrize("name", ["reporter_name", "reporter_phone", "reporter_email"])
def test_when_reports_are_anonymous_then_reporter_fields_are_null(name: str) -> None:
    values = [json.loads(e.value)[name] for e in simulate("service_requests", 600)]
    assert values.count(None) > 50
    assert len(values) - values.count(None) > 200


@pytest.mark.parametrize("dataset", DATASETS)
def test_when_the_schema_is_read_then_fields_and_nullability_match_it(dataset: str) -> None:
    schema = json.loads(resources.files("schemas").joinpath(f"{dataset}.avsc").read_text())
    fields = schema["fields"]
    assert tuple(f["name"] for f in fields) == FIELDS[dataset]
    nullable = {f["name"] for f in fields if isinstance(f["type"], list) and "null" in f["type"]}
    assert nullable == NULLABLE[dataset]


@pytest.mark.parametrize(
    ("dataset", "busy_hours", "quiet_hours"),
    [
        ("wifi_presence", (8, 17), (2, 4)),
        ("alpr_reads", (7, 17), (2, 4)),
        ("micromobility_trips", (8, 17), (2, 4)),
        ("service_requests", (10, 13), (3, 5)),
    ],
)
def test_when_a_day_is_simulated_then_daytime_is_busier_than_night(
    dataset: str, busy_hours: tuple[int, int], quiet_hours: tuple[int, int]
) -> None:
    hours = Counter[int]()
    for event in simulate(dataset, 4000, rate_per_s=0.02):
        hours[(event.event_time - timedelta(hours=4)).hour] += 1  # New York, EDT in May
    assert min(hours[h] for h in busy_hours) > 3 * max(hours[h] for h in quiet_hours)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "parking"}, "unknown dataset"),
        ({"start": datetime(2024, 5, 14, 12, 0)}, "timezone-aware"),  # noqa: DTZ001
        ({"rate_per_s": 0.0}, "rate"),
        ({"population": 0}, "population"),
        ({"malformed": 1.5}, "malformed"),
    ],
)
def test_when_configuration_is_wrong_then_the_error_says_what_to_change(
    kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"dataset": "wifi_presence", "start": START, **kwargs}
    with pytest.raises(ConfigurationError, match=message):
        Simulator(args.pop("dataset"), **args)


@pytest.mark.parametrize(
    ("dataset", "count", "malformed"),
    [("wifi_presence", 25, "0"), ("service_requests", 40, "0.5"), ("smart_meter", 7, "1")],
)
def test_when_the_cli_writes_a_file_then_it_has_one_line_per_event(
    dataset: str, count: int, malformed: str, tmp_path: Path
) -> None:
    out = tmp_path / "events.jsonl"
    argv = ["simulate", "--dataset", dataset, "--count", str(count), "--seed", "5"]
    argv += ["--malformed", malformed, "--start", "2024-05-14T12:00:00Z", "--out", str(out)]
    assert main(argv) == 0
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == count
    sim = Simulator(dataset, seed=5, start=START, malformed=float(malformed))
    assert lines[:-1] == [e.value for e in sim.events(count)]


def test_when_the_cli_simulates_all_datasets_then_each_gets_its_own_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--dataset", "all", "--count", "12", "--malformed", "0.2"]
    assert main([*argv, "--start", "2024-05-14T12:00:00Z", "--out", str(tmp_path)]) == 0
    for dataset in DATASETS:
        assert len((tmp_path / f"{dataset}.jsonl").read_bytes().splitlines()) == 12
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "simulated events" in captured.err and "smart_meter" in captured.err


def test_when_the_cli_summarises_then_it_never_prints_identifiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sr.jsonl"
    argv = ["simulate", "--dataset", "service_requests", "--count", "50", "--malformed", "0.3"]
    assert main([*argv, "--start", "2024-05-14T12:00:00Z", "--out", str(out)]) == 0
    printed = capsys.readouterr().err
    identifiers = {
        i
        for e in Simulator("service_requests", start=START, malformed=0.3).events(50)
        for i in e.identifiers
    }
    assert identifiers and not [i for i in identifiers if i in printed]


@pytest.mark.parametrize("start", ["2024-05-14T12:00:00", "yesterday"])
def test_when_the_start_is_not_an_aware_time_then_the_cli_refuses_it(
    start: str, tmp_path: Path
) -> None:
    argv = ["simulate", "--dataset", "air_quality", "--count", "1", "--start", start]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "x.jsonl")])
    assert exit_info.value.code == 2


def test_when_no_kafka_is_configured_then_the_cli_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["simulate", "--dataset", "wifi_presence", "--count", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "KAFKA_BOOTSTRAP_SERVERS" in err and "citysieve kafka up" in err
