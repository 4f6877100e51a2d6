"""The public sink against a local S3 endpoint (moto's server on 127.0.0.1, no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from connectors.sink import write_datapackage, write_window

BUCKET = "citysieve-public"
START = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
SCHEMA = pa.schema(
    [
        pa.field("window_start", pa.timestamp("us", tz="UTC"), metadata={b"description": b"S"}),
        pa.field("h3_cell", pa.string(), metadata={b"description": b"Cell"}),
        pa.field("events", pa.int64(), metadata={b"description": b"Events", b"unit": b"events"}),
    ]
)
ROWS = [
    {"window_start": START, "h3_cell": "892a1072d6bffff", "events": 7},
    {"window_start": START, "h3_cell": "872a10728ffffff", "events": 11},
]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A moto S3 server on a free local port, a bucket, and the storage options to reach it."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        yield {
            "client": client,
            "options": {
                "key": "testing",
                "secret": "testing",
                "endpoint_url": endpoint,
                "client_kwargs": {"region_name": "us-east-1"},
                "skip_instance_cache": True,
            },
        }
        client.close()
    finally:
        server.stop()


def test_when_sink_is_s3_then_files_land_under_the_prefix_and_read_back(
    s3: dict[str, Any],
) -> None:
    url = f"s3://{BUCKET}/open-data"
    args: dict[str, Any] = {
        "window_start": START,
        "window_s": 900,
        "partition": 2,
        "first_offset": 100,
        "last_offset": 180,
        "storage_options": s3["options"],
    }
    path = write_window(url, "wifi_presence", ROWS, SCHEMA, **args)
    key = "open-data/wifi_presence/date=2024-05-06/20240506T090000Z-900s-p2-o100-180.parquet"
    assert path == f"s3://{BUCKET}/{key}"

    body = s3["client"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
    table = pq.read_table(pa.BufferReader(body))
    assert table.to_pylist() == ROWS
    assert table.schema.field("events").metadata[b"unit"] == b"events"

    # A replay rewrites the same key with the same bytes; nothing else appears.
    assert write_window(url, "wifi_presence", ROWS, SCHEMA, **args) == path
    again = s3["client"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert again == body

    package = {
        "name": "wifi_presence",
        "resources": [
            {
                "name": "wifi_presence",
                "path": "date=*/*.parquet",
                "schema": {"fields": [{"name": "events", "type": "integer", "description": "E"}]},
            }
        ],
    }
    dp = write_datapackage(url, "wifi_presence", package, storage_options=s3["options"])
    assert dp == f"s3://{BUCKET}/open-data/wifi_presence/datapackage.json"
    listed = s3["client"].list_objects_v2(Bucket=BUCKET)["Contents"]
    assert sorted(obj["Key"] for obj in listed) == [
        "open-data/wifi_presence/datapackage.json",
        key,
    ]
    stored = s3["client"].get_object(Bucket=BUCKET, Key="open-data/wifi_presence/datapackage.json")
    assert json.loads(stored["Body"].read()) == package


def test_when_windows_span_days_then_s3_keys_follow_the_date_layout(s3: dict[str, Any]) -> None:
    url = f"s3://{BUCKET}"
    for hours in (0, 15, 39):
        start = START + timedelta(hours=hours)
        write_window(
            url,
            "air_quality",
            [{**ROWS[0], "window_start": start}],
            SCHEMA,
            window_start=start,
            window_s=3600,
            partition=0,
            first_offset=hours,
            last_offset=hours,
            storage_options=s3["options"],
        )
    listed = s3["client"].list_objects_v2(Bucket=BUCKET, Prefix="air_quality/")["Contents"]
    assert sorted(obj["Key"] for obj in listed) == [
        "air_quality/date=2024-05-06/20240506T090000Z-3600s-p0-o0-0.parquet",
        "air_quality/date=2024-05-07/20240507T000000Z-3600s-p0-o15-15.parquet",
        "air_quality/date=2024-05-08/20240508T000000Z-3600s-p0-o39-39.parquet",
    ]
