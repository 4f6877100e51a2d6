"""The open tier on a real broker: windows, iot.open and the Parquet sink.

A worker killed between a file write and its commit (fault injection), then restarted,
leaves exactly the Parquet output of an uninterrupted run: same file names, same bytes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from citysieve.settings import Settings
from connectors.audit import summarize_audit
from connectors.kafka_io import read_topic
from connectors.simulator import Simulator
from connectors.testing import TestBroker
from streams.runtime import spawn_worker, stop_worker
from streams.windowing import FAULT_ENV
from tests.integration.pipeline_harness import (
    KEYS_ENV,
    pipeline_settings,
    prepare,
    produce_events,
    wait_for_counts,
)

pytestmark = pytest.mark.integration
DATASET = "wifi_presence"
START = datetime(2026, 11, 21, 10, tzinfo=UTC)
# Two runs must see the same anon offsets and close windows at the same events, so:
# every raw event goes to one partition (raw -> anon keeps its order), and windows close
# on the watermark, pushed past them by "tick" events an hour later from many devices
# (so every anon partition's watermark moves). Idle closing is set far away.
EVENTS = list(Simulator(DATASET, seed=21, start=START, population=150).events(1200))
TICKS = list(
    Simulator(DATASET, seed=22, start=START + timedelta(hours=1), population=400).events(300)
)
COUNT = len(EVENTS) + len(TICKS)


def _settings(kafka: TestBroker, prefix: str, tmp: Path) -> Settings:
    return pipeline_settings(kafka, prefix, tmp).model_copy(update={"idle_close_s": 600.0})


def _wait_for_files(settings: Settings, anon_records: int, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        audit = asyncio.run(
            summarize_audit(settings.bootstrap_servers or "", settings.topic("audit"))
        )
        counts = audit.open_tier.get(DATASET)
        if (
            counts
            and counts.windowed >= anon_records
            and counts.exports >= counts.windows_with_rows
        ):
            return
        if time.monotonic() > deadline:
            closed = asyncio.run(
                read_topic(settings.bootstrap_servers or "", settings.topic("audit"), idle_s=0.5)
            )
            kinds = [m.value for m in closed if b"window_closed" in (m.value or b"")]
            raise AssertionError((settings.topic_prefix, counts, kinds))
        time.sleep(0.5)


def _run(settings: Settings, tmp: Path, *, crash_once: bool) -> dict[str, bytes]:
    prepare(settings)
    log = tmp / "worker.log"
    produce_events(settings, EVENTS + TICKS, partition=0)
    if crash_once:
        worker = spawn_worker(settings, log, {**KEYS_ENV, FAULT_ENV: "exit_after_sink_write"})
        assert worker.wait(timeout=120) == 86, log.read_text(errors="replace")[-3000:]
        written = sorted((tmp / "public").rglob("*.parquet"))
        assert len(written) == 1, "the fault fires after the first file write"
    worker = spawn_worker(settings, log, KEYS_ENV)
    try:
        wait_for_counts(settings, {DATASET: COUNT}, 120, log)
        _wait_for_files(settings, len(EVENTS), 120, log)
    finally:
        stop_worker(worker)
    root = tmp / "public"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_when_the_sink_dies_between_write_and_commit_then_output_equals_an_uninterrupted_run(
    kafka: TestBroker, topic_prefix: str, tmp_path: Path
) -> None:
    clean = _run(
        _settings(kafka, f"{topic_prefix}a.", tmp_path / "a"), tmp_path / "a", crash_once=False
    )
    crashed = _run(
        _settings(kafka, f"{topic_prefix}b.", tmp_path / "b"), tmp_path / "b", crash_once=True
    )

    parquet = sorted(name for name in clean if name.endswith(".parquet"))
    assert len(parquet) >= 2  # one window, one file per anon partition holding events
    assert sorted(crashed) == sorted(clean), (sorted(crashed), sorted(clean))
    assert all(crashed[name] == clean[name] for name in clean)

    rows = pa.concat_tables(pq.read_table(tmp_path / "a" / "public" / n) for n in parquet)
    assert min(rows.column("subjects").to_pylist()) >= 5
    assert sum(rows.column("events").to_pylist()) <= COUNT
