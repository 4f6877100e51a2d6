"""The worker on a real broker: every valid event once on anon, every malformed on the DLQ,
and no raw identifier or planted free-text PII anywhere in the anon topics' bytes."""

from __future__ import annotations

import heapq
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.simulator import DATASETS, Simulator
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
from transforms.pipeline import HEADER_OFFSET, HEADER_REASON

pytestmark = pytest.mark.integration
PER_DATASET = 120
START = datetime(2026, 11, 21, 7, tzinfo=UTC)


def test_when_valid_and_malformed_events_flow_then_each_lands_once_and_nothing_leaks(
    kafka: TestBroker, topic_prefix: str, tmp_path: Path
) -> None:
    settings = pipeline_settings(kafka, topic_prefix, tmp_path)
    prepare(settings)
    simulators = [Simulator(d, seed=3, start=START, malformed=0.1, population=60) for d in DATASETS]
    events = list(
        heapq.merge(*(s.events(PER_DATASET) for s in simulators), key=lambda e: e.event_time)
    )
    log = tmp_path / "worker.log"
    worker = spawn_worker(settings, log, KEYS_ENV)
    try:
        produce_events(settings, events)
        wait_for_counts(settings, dict.fromkeys(DATASETS, PER_DATASET), 120, log)
    finally:
        stop_worker(worker)

    for dataset in DATASETS:
        sent = [e for e in events if e.dataset == dataset]
        valid_ids = Counter(e.event_id for e in sent if e.valid)
        malformed = [e for e in sent if not e.valid]
        anon = read_all(settings, "anon", dataset)
        dlq = read_all(settings, "dlq", dataset)

        decoder = anon_decoder(settings, dataset)
        arrived = Counter(decoder.decode(m.value or b"")["event_id"] for m in anon)
        assert arrived == valid_ids, dataset  # every valid event exactly once

        assert sorted(m.value or b"" for m in dlq) == sorted(e.value for e in malformed), dataset
        for message in dlq:
            headers = dict(message.headers)
            assert headers[HEADER_REASON], dataset
            assert headers[HEADER_OFFSET].isdigit()

        blob = b"\n".join((m.value or b"") + b"|" + (m.key or b"") for m in anon)
        planted = {i for e in sent if e.valid for i in e.identifiers}
        leaked = sorted(i for i in planted if i.encode() in blob)
        assert leaked == [], f"{dataset}: {len(leaked)} identifiers leaked into iot.anon"
