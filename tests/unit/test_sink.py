"""The public sink (connectors/sink.py) on the local filesystem and in memory."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import h3
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from citysieve.errors import ConfigurationError
from connectors import sink
from connectors.sink import (
    Destination,
    datapackage_descriptor,
    frictionless_fields,
    window_file_name,
    write_datapackage,
    write_window,
)
from transforms.windows import MeasureSpec, WindowAggregator, WindowConfig

START = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CELL = h3.latlng_to_cell(40.7128, -74.0060, 9)


def described(name: str, dtype: pa.DataType, text: str, **extra: str) -> pa.Field:
    meta = {b"description": text.encode()}
    meta.update({k.encode(): v.encode() for k, v in extra.items()})
    return pa.field(name, dtype, metadata=meta)


SCHEMA = pa.schema(
    [
        described("window_start", pa.timestamp("us", tz="UTC"), "Start of the window (UTC)."),
        described("window_end", pa.timestamp("us", tz="UTC"), "End of the window (exclusive)."),
        described("h3_cell", pa.string(), "H3 cell of the group.", classification="public"),
        described("h3_resolution", pa.int32(), "H3 resolution of h3_cell."),
        described("events", pa.int64(), "Events in the row.", unit="events"),
        described("subjects", pa.int64(), "Distinct devices in the row (at least k)."),
        described("rssi_mean", pa.float64(), "Mean signal strength.", unit="dBm"),
    ],
    metadata={b"citysieve.policy": b"wifi_presence v1"},
)


def rows(n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "window_start": START,
            "window_end": START + timedelta(minutes=15),
            "h3_cell": CELL,
            "h3_resolution": 9,
            "events": 10 + i,
            "subjects": 5 + i,
            "rssi_mean": -60.5 - i,
        }
        for i in range(n)
    ]


def write(
    root: Path | str | Destination, data: list[dict[str, Any]] | None = None, **overrides: Any
) -> str:
    args: dict[str, Any] = {
        "window_start": START,
        "window_s": 900,
        "partition": 3,
        "first_offset": 10,
        "last_offset": 42,
    }
    args.update(overrides)
    return write_window(root, "wifi_presence", rows() if data is None else data, SCHEMA, **args)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --------------------------------------------------------------------------- layout


def test_when_window_is_written_then_it_lands_in_dataset_date_file(tmp_path: Path) -> None:
    path = write(tmp_path / "public")
    expected = (
        tmp_path / "public/wifi_presence/date=2024-05-06/20240506T090000Z-900s-p3-o10-42.parquet"
    )
    assert path == str(expected)
    assert listing(tmp_path / "public") == [
        "wifi_presence",
        "wifi_presence/date=2024-05-06",
        "wifi_presence/date=2024-05-06/20240506T090000Z-900s-p3-o10-42.parquet",
    ]
    table = pq.read_table(path)
    assert table.schema.equals(SCHEMA, check_metadata=False)
    assert table.to_pylist() == rows()


@pytest.mark.parametrize(
    ("args", "name"),
    [
        pytest.param((START, 900, 0, 0, 0), "20240506T090000Z-900s-p0-o0-0.parquet", id="first"),
        pytest.param(
            (START + timedelta(hours=15), 3600, 11, 1234, 99999),
            "20240507T000000Z-3600s-p11-o1234-99999.parquet",
            id="next_day",
        ),
        pytest.param(
            (datetime(2024, 5, 6, 11, 0, tzinfo=timezone(timedelta(hours=2))), 60, 1, 5, 6),
            "20240506T090000Z-60s-p1-o5-6.parquet",
            id="other_timezone_is_converted",
        ),
    ],
)
def test_when_name_parts_are_given_then_file_name_is_deterministic(
    args: tuple[Any, ...], name: str
) -> None:
    assert window_file_name(*args) == name


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((START.replace(tzinfo=None), 900, 0, 0, 0), id="naive_start"),
        pytest.param((START, 0, 0, 0, 0), id="zero_window"),
        pytest.param((START, 900, -1, 0, 0), id="negative_partition"),
        pytest.param((START, 900, 0, 5, 4), id="offsets_reversed"),
    ],
)
def test_when_name_parts_are_wrong_then_refused(args: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigurationError):
        window_file_name(*args)


def test_when_window_crosses_midnight_then_date_is_the_window_start_utc(tmp_path: Path) -> None:
    late = datetime(2024, 5, 6, 23, 45, tzinfo=UTC)
    path = write(tmp_path, window_start=late, data=[])
    assert "/wifi_presence/date=2024-05-06/20240506T234500Z-" in path


@pytest.mark.parametrize("dataset", ["../etc", "Wifi", "a/b", "", ".hidden"])
def test_when_dataset_name_is_not_a_safe_directory_then_refused(
    tmp_path: Path, dataset: str
) -> None:
    with pytest.raises(ConfigurationError, match="dataset name"):
        write_window(
            tmp_path,
            dataset,
            rows(),
            SCHEMA,
            window_start=START,
            window_s=900,
            partition=0,
            first_offset=0,
            last_offset=0,
        )
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------- replay


def test_when_same_window_is_written_twice_then_one_file_with_identical_bytes(
    tmp_path: Path,
) -> None:
    first = write(tmp_path)
    before = Path(first).read_bytes()
    second = write(tmp_path)
    assert first == second
    assert Path(second).read_bytes() == before
    assert len([p for p in tmp_path.rglob("*.parquet")]) == 1


def test_when_a_replay_has_other_offsets_then_it_is_another_file(tmp_path: Path) -> None:
    write(tmp_path)
    write(tmp_path, first_offset=43, last_offset=50)
    assert len(list(tmp_path.rglob("*.parquet"))) == 2


# --------------------------------------------------------------------------- metadata


def test_when_written_then_column_descriptions_are_in_the_parquet_metadata(
    tmp_path: Path,
) -> None:
    path = write(tmp_path)
    schema = pq.read_schema(path)
    for f in SCHEMA:
        assert schema.field(f.name).metadata[b"description"] == f.metadata[b"description"]
    assert schema.field("rssi_mean").metadata[b"unit"] == b"dBm"
    kv = pq.read_metadata(path).metadata
    columns = json.loads(kv[b"citysieve.columns"])
    assert set(columns) == set(SCHEMA.names)
    assert columns["rssi_mean"] == {"description": "Mean signal strength.", "unit": "dBm"}
    assert columns["h3_cell"]["classification"] == "public"
    assert kv[b"citysieve.policy"] == b"wifi_presence v1"
    assert kv[b"citysieve.source"] == b"partition=3 offsets=10-42"
    assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"


def test_when_a_column_has_no_description_then_nothing_is_written(tmp_path: Path) -> None:
    schema = SCHEMA.append(pa.field("undocumented", pa.int64()))
    with pytest.raises(ConfigurationError, match="undocumented"):
        write_window(
            tmp_path,
            "wifi_presence",
            rows(),
            schema,
            window_start=START,
            window_s=900,
            partition=0,
            first_offset=0,
            last_offset=1,
        )
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize(
    ("bad_rows", "message"),
    [
        pytest.param([{**rows(1)[0], "mac": "aa:bb"}], "does not declare: mac", id="extra_col"),
        pytest.param([{**rows(1)[0], "events": "many"}], "do not fit", id="wrong_type"),
    ],
)
def test_when_rows_do_not_fit_the_schema_then_refused_and_nothing_written(
    tmp_path: Path, bad_rows: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        write(tmp_path, bad_rows)
    assert list(tmp_path.rglob("*")) == []


def test_when_schema_is_given_then_it_is_never_inferred(tmp_path: Path) -> None:
    # No rows at all: the file still has every column with the declared types.
    path = write(tmp_path, data=[])
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.schema.equals(SCHEMA, check_metadata=False)


# --------------------------------------------------------------------------- atomicity


def test_when_the_write_fails_midway_then_no_final_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(sink.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == []


def test_when_a_file_is_replaced_then_readers_see_old_or_new_never_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(write(tmp_path))
    old = path.read_bytes()
    seen_during_write: list[bytes] = []
    real_replace = os.replace

    def observing_replace(src: str, dst: str) -> None:
        # Just before the rename: the final name still holds the old complete file,
        # and the new bytes sit under a hidden temporary name in the same directory.
        seen_during_write.append(Path(dst).read_bytes())
        assert Path(src).parent == Path(dst).parent
        assert Path(src).name.startswith(".")
        real_replace(src, dst)

    monkeypatch.setattr(sink.os, "replace", observing_replace)
    write(tmp_path, data=rows(5))
    assert seen_during_write == [old]
    assert pq.read_table(path).num_rows == 5


def test_when_a_temporary_is_left_behind_then_dataset_readers_ignore_it(tmp_path: Path) -> None:
    path = Path(write(tmp_path))
    (path.parent / f".{path.name}.deadbeef.tmp").write_bytes(b"partial")
    dataset = ds.dataset(tmp_path / "wifi_presence", format="parquet", partitioning="hive")
    assert dataset.to_table().num_rows == 3


def test_when_sink_is_an_object_store_then_the_key_is_written_in_one_put() -> None:
    destination = Destination("memory://citysieve-test-bucket/public")
    path = write(destination)
    assert path.startswith("memory:///citysieve-test-bucket/public/wifi_presence/date=2024-05-06/")
    data = destination.read_bytes(
        "wifi_presence", "date=2024-05-06", "20240506T090000Z-900s-p3-o10-42.parquet"
    )
    assert pq.read_table(pa.BufferReader(data)).to_pylist() == rows()
    assert [p for p in destination.fs.find("/citysieve-test-bucket") if ".tmp" in p] == []
    destination.fs.rm("/citysieve-test-bucket", recursive=True)


# --------------------------------------------------------------------------- data package


def descriptor(schema: pa.Schema = SCHEMA) -> dict[str, Any]:
    return datapackage_descriptor(
        "wifi_presence",
        schema,
        title="Wi-Fi presence counts",
        description="Devices seen by city Wi-Fi sensors, per 15 minutes and area.",
        purpose="Measure foot traffic in public spaces.",
        licenses=[{"name": "ODC-BY-1.0", "path": "https://opendatacommons.org/licenses/by/1-0/"}],
        sources=[{"title": "City Wi-Fi sensors"}],
        k=5,
        window={"size_s": 900, "lateness_s": 300, "alignment": "UTC epoch"},
        generalization={"h3": {"finest_res": 9, "coarsest_res": 7}},
    )


def test_when_datapackage_is_written_then_valid_json_with_every_column_described(
    tmp_path: Path,
) -> None:
    path = write_datapackage(tmp_path, "wifi_presence", descriptor())
    assert path == str(tmp_path / "wifi_presence" / "datapackage.json")
    package = json.loads(Path(path).read_text())
    assert package["name"] == "wifi_presence"
    assert package["k"] == 5
    assert package["window"]["size_s"] == 900
    assert package["licenses"][0]["name"] == "ODC-BY-1.0"
    assert package["purpose"]
    (resource,) = package["resources"]
    assert resource["path"] == "date=*/*.parquet"
    fields = resource["schema"]["fields"]
    assert [f["name"] for f in fields] == SCHEMA.names
    assert all(f["description"] for f in fields)
    assert fields[4] == {
        "name": "events",
        "type": "integer",
        "description": "Events in the row.",
        "unit": "events",
    }
    assert fields[2]["classification"] == "public"
    assert [p.name for p in (tmp_path / "wifi_presence").iterdir()] == ["datapackage.json"]


def test_when_datapackage_is_rewritten_then_replaced_in_place(tmp_path: Path) -> None:
    write_datapackage(tmp_path, "wifi_presence", descriptor())
    changed = descriptor()
    changed["k"] = 10
    path = write_datapackage(tmp_path, "wifi_presence", changed)
    assert json.loads(Path(path).read_text())["k"] == 10
    assert len(list((tmp_path / "wifi_presence").iterdir())) == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda d: d.pop("resources"), "no 'resources'", id="no_resources"),
        pytest.param(
            lambda d: d["resources"][0]["schema"]["fields"][0].pop("description"),
            "without a description",
            id="undescribed_field",
        ),
        pytest.param(lambda d: d.update(k=float("nan")), "not plain JSON", id="nan"),
        pytest.param(lambda d: d.update(when=START), "not plain JSON", id="datetime"),
    ],
)
def test_when_descriptor_is_incomplete_then_refused(
    tmp_path: Path, mutate: Any, message: str
) -> None:
    package = descriptor()
    mutate(package)
    with pytest.raises(ConfigurationError, match=message):
        write_datapackage(tmp_path, "wifi_presence", package)
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (pa.string(), {"type": "string"}),
        (pa.int16(), {"type": "integer"}),
        (pa.float32(), {"type": "number"}),
        (pa.bool_(), {"type": "boolean"}),
        (pa.timestamp("ms", tz="UTC"), {"type": "datetime"}),
        (pa.date32(), {"type": "date"}),
        (pa.list_(pa.string()), {"type": "array"}),
        (pa.binary(), {"type": "string", "format": "binary"}),
    ],
)
def test_when_arrow_types_vary_then_table_schema_types_follow(
    dtype: pa.DataType, expected: dict[str, str]
) -> None:
    (field,) = frictionless_fields(pa.schema([described("x", dtype, "X.")]))
    assert {k: v for k, v in field.items() if k in ("type", "format")} == expected


def test_when_a_field_is_required_then_constraint_is_listed() -> None:
    schema = pa.schema([described("x", pa.int64(), "X.").with_nullable(False)])
    assert frictionless_fields(schema)[0]["constraints"] == {"required": True}


# --------------------------------------------------------------------------- end to end


def test_when_aggregator_rows_are_written_then_they_read_back(tmp_path: Path) -> None:
    config = WindowConfig(
        k=2,
        window_s=900,
        finest_res=9,
        coarsest_res=7,
        measures=(MeasureSpec("rssi", ("mean",)),),
    )
    aggregator = WindowAggregator(config)
    aggregator.add(
        [
            {
                "event_time": START + timedelta(seconds=i),
                "subject": s,
                "location_h3": CELL,
                "rssi": -60.5 - i,
            }
            for i, s in enumerate("abcab")
        ]
    )
    (window,) = aggregator.close_all()
    assert config.output_columns == SCHEMA.names
    path = write_window(
        tmp_path,
        "wifi_presence",
        window.rows,
        SCHEMA,
        window_start=window.window_start,
        window_s=config.window_s,
        partition=0,
        first_offset=0,
        last_offset=4,
    )
    back = pq.read_table(path).to_pylist()
    assert back == [{**row, "h3_resolution": 9} for row in window.rows]
    assert back[0]["subjects"] == 3
