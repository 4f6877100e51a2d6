"""At-least-once: a worker SIGKILLed mid-stream and restarted loses no event."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.kafka_io import topic_counts
from connectors.simulator import Simulator
from connectors.testing import TestBroker
from streams.runtime import spawn_worker, stop_worker
from tests.integration.pipeline_harness import (
    KEYS_ENV,
    anon_decoder,
    pipeline_settings,
    prepare,
    produce_events,
    read_all,
    wait_for_counts,
)

pytestmark = pytest.mark.integration
DATASET = "wifi_presence"
TOTAL = 4000


def test_when_worker_is_killed_mid_stream_then_restart_loses_no_event(
    kafka: TestBroker, topic_prefix: str, tmp_path: Path
) -> None:
    settings = pipeline_settings(kafka, topic_prefix, tmp_path).model_copy(
        update={"batch_size": 40, "batch_within_s": 0.05}
    )
    prepare(settings)
    events = list(
        Simulator(DATASET, seed=5, start=datetime(2026, 11, 21, 9, tzinfo=UTC)).events(TOTAL)
    )
    first_half, second_half = events[: TOTAL // 2], events[TOTAL // 2 :]
    log = tmp_path / "worker.log"
    anon_topic = settings.topic("anon", DATASET)

    first = spawn_worker(settings, log, KEYS_ENV)
    try:
        produce_events(settings, first_half)
        deadline = time.monotonic() + 90
        while asyncio.run(topic_counts(kafka.bootstrap, [anon_topic]))[anon_topic] == 0:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            assert first.poll() is None, log.read_text()[-3000:]
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)  # mid-stream: batches in flight, offsets uncommitted
        first.wait()
        killed_at = asyncio.run(topic_counts(kafka.bootstrap, [anon_topic]))[anon_topic]
    finally:
        stop_worker(first)
    assert killed_at < TOTAL // 2, "the worker finished before it was killed; nothing was tested"

    produce_events(settings, second_half)
    second = spawn_worker(settings, log, KEYS_ENV)
    try:
        wait_for_counts(settings, {DATASET: TOTAL}, 120, log)
    finally:
        stop_worker(second)

    decoder = anon_decoder(settings, DATASET)
    arrived = Counter(
        decoder.decode(m.value or b"")["event_id"] for m in read_all(settings, "anon", DATASET)
    )
    missing = {e.event_id for e in events} - set(arrived)
    assert missing == set()
    # Duplicates are allowed (at-least-once); they carry the same event_id for consumers to drop.
    assert sum(arrived.values()) >= TOTAL
