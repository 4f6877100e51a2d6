"""`citysieve anonymize` on files: the sink layout, k on every row, and nothing lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretBytes

from citysieve.keys import KeyRing
from citysieve.policy.derive import tier_schemas
from citysieve.policy.loader import load_policy
from connectors.simulator import Simulator
from streams.backfill import Backfill
from streams.cli import main

KEYS = KeyRing(pseudonym=SecretBytes(b"p" * 32), encryption=SecretBytes(b"e" * 32))
START = datetime(2026, 11, 20, 6, tzinfo=UTC)


def _events_file(tmp_path: Path, dataset: str, n: int, malformed: float = 0.0) -> tuple[Path, list]:
    events = list(
        Simulator(dataset, seed=9, start=START, population=80, malformed=malformed).events(n)
    )
    path = tmp_path / f"{dataset}.jsonl"
    path.write_bytes(b"".join(e.value.replace(b"\n", b"\\n") + b"\n" for e in events))
    return path, events


def _public(out: Path, dataset: str) -> pa.Table:
    files = sorted((out / "public" / dataset).glob("date=*/*.parquet"))
    assert files, "no public files written"
    return pa.concat_tables(pq.read_table(f) for f in files)


@pytest.mark.parametrize(
    "dataset", ["wifi_presence", "micromobility_trips", "smart_meter", "air_quality"]
)
def test_when_a_file_is_anonymized_then_rows_keep_k_and_every_event_is_accounted(
    dataset: str, tmp_path: Path
) -> None:
    path, events = _events_file(tmp_path, dataset, 3000, malformed=0.02)
    policy = load_policy(dataset)
    report = Backfill(policy, tmp_path / "out", keys=KEYS).run(path, "jsonl")

    valid = sum(e.valid for e in events)
    assert report.events_in == 3000
    assert sum(report.rejected.values()) == 3000 - valid
    assert report.anon_records == valid
    assert report.events_published + report.events_suppressed + report.events_late == valid
    rows = _public(tmp_path / "out", dataset)
    assert sum(rows.column("events").to_pylist()) == report.events_published
    if policy.k is not None:
        assert min(rows.column("subjects").to_pylist()) >= policy.k
    dlq = (tmp_path / "out" / "dlq" / f"{dataset}.jsonl").read_text().splitlines()
    assert len(dlq) == 3000 - valid
    assert {json.loads(line)["reason"] for line in dlq} <= {
        "not_json",
        "not_an_object",
        "missing_field",
        "wrong_type",
        "bad_timestamp",
        "out_of_range",
    }


def test_when_anonymized_then_layout_descriptions_and_no_identifier_in_output(
    tmp_path: Path,
) -> None:
    path, events = _events_file(tmp_path, "wifi_presence", 2000)
    out = tmp_path / "out"
    assert (
        main(["anonymize", "--dataset", "wifi_presence", "--input", str(path), "--out", str(out)])
        == 0
    )
    for tier in ("anon", "public"):
        package = json.loads((out / tier / "wifi_presence" / "datapackage.json").read_text())
        fields = package["resources"][0]["schema"]["fields"]
        assert all(f["description"] and f["classification"] for f in fields)
    assert json.loads((out / "public/wifi_presence/datapackage.json").read_text())["k"] == 5
    anon_files = list((out / "anon" / "wifi_presence").glob("date=2026-11-20/lines-*.parquet"))
    assert anon_files
    public = _public(out, "wifi_presence")
    assert public.schema.field("subjects").metadata[b"description"]
    blob = b"".join(f.read_bytes() for f in out.rglob("*.parquet"))
    macs = {i for e in events for i in e.identifiers}
    assert not [m for m in macs if m.encode() in blob]


def test_when_the_same_file_is_anonymized_twice_then_public_files_are_identical(
    tmp_path: Path,
) -> None:
    path, _ = _events_file(tmp_path, "wifi_presence", 1500)
    policy = load_policy("wifi_presence")
    for run in ("a", "b"):
        Backfill(policy, tmp_path / run, keys=KEYS).run(path, "jsonl")
    first = {
        p.relative_to(tmp_path / "a"): p.read_bytes()
        for p in (tmp_path / "a" / "public").rglob("*.parquet")
    }
    second = {
        p.relative_to(tmp_path / "b"): p.read_bytes()
        for p in (tmp_path / "b" / "public").rglob("*.parquet")
    }
    assert first and first == second


@pytest.mark.parametrize("fmt", ["avro", "parquet"])
def test_when_input_is_avro_or_parquet_then_the_same_records_come_out(
    fmt: str, tmp_path: Path
) -> None:
    path, _ = _events_file(tmp_path, "wifi_presence", 600)
    policy = load_policy("wifi_presence")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    raw_schema = tier_schemas(policy).raw_avro
    typed = [
        {**r, "observed_at": datetime.fromisoformat(r["observed_at"].replace("Z", "+00:00"))}
        for r in rows
    ]
    other = tmp_path / f"events.{fmt}"
    if fmt == "avro":
        with other.open("wb") as handle:
            fastavro.writer(handle, fastavro.parse_schema(raw_schema), typed)
    else:
        pq.write_table(pa.Table.from_pylist(typed, schema=tier_schemas(policy).raw_arrow), other)
    from_json = Backfill(policy, tmp_path / "json", keys=KEYS).run(path, "jsonl")
    from_other = Backfill(policy, tmp_path / fmt, keys=KEYS).run(other, fmt)  # type: ignore[arg-type]
    assert from_other.anon_records == from_json.anon_records == 600
    assert from_other.rows_published == from_json.rows_published
