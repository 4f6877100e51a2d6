"""Running the real worker process against the test broker, and reading what it wrote."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from citysieve.policy.derive import tier_schemas
from citysieve.policy.loader import load_policies
from citysieve.settings import Settings
from connectors.avro_wire import AvroDecoder
from connectors.kafka_io import Message, Producer, read_topic, topic_counts
from connectors.simulator import SimEvent
from connectors.testing import TestBroker
from streams.runtime import prepare_topics

KEYS_ENV = {
    "CITYSIEVE_PSEUDONYM_KEY": "aW50ZWdyYXRpb24tdGVzdC1wc2V1ZG9ueW0ta2V5LTMyYnl0ZXM=",
    "CITYSIEVE_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}


def pipeline_settings(kafka: TestBroker, prefix: str, tmp: Path) -> Settings:
    return Settings(
        bootstrap_servers=kafka.bootstrap,
        topic_prefix=prefix,
        app_id=f"{prefix}citysieve",
        state_dir=tmp / "worker-state",
        sink_url=str(tmp / "public"),
        batch_within_s=0.2,
        session_timeout_s=6.0,  # the broker's minimum: a killed worker's partitions move fast
    )


def prepare(settings: Settings) -> None:
    asyncio.run(prepare_topics(settings, load_policies(settings.policy_dir)))


def produce_events(
    settings: Settings, events: Sequence[SimEvent], *, partition: int | None = None
) -> None:
    async def send() -> None:
        async with Producer(settings.bootstrap_servers or "") as producer:
            await producer.send_batch(
                [(settings.topic("raw", e.dataset), e.key, e.value) for e in events],
                partition=partition,
            )

    asyncio.run(send())


def wait_for_counts(
    settings: Settings, expected: dict[str, int], timeout_s: float, worker_log: Path
) -> dict[str, int]:
    """Wait until anon + dlq hold ``expected[dataset]`` messages; returns the last counts."""
    topics = [settings.topic(t, d) for d in expected for t in ("anon", "dlq")]
    deadline = time.monotonic() + timeout_s
    while True:
        counts = asyncio.run(topic_counts(settings.bootstrap_servers or "", topics))
        done = {
            d: counts[settings.topic("anon", d)] + counts[settings.topic("dlq", d)]
            for d in expected
        }
        if all(done[d] >= n for d, n in expected.items()):
            return done
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pipeline incomplete after {timeout_s:.0f} s: {done} of {expected}\n"
                + worker_log.read_text(errors="replace")[-3000:]
            )
        time.sleep(0.5)


def read_all(settings: Settings, tier: str, dataset: str) -> list[Message]:
    return asyncio.run(
        read_topic(settings.bootstrap_servers or "", settings.topic(tier, dataset), idle_s=1.0)
    )


def anon_decoder(settings: Settings, dataset: str) -> AvroDecoder:
    policy = load_policies(settings.policy_dir)[dataset]
    return AvroDecoder([tier_schemas(policy).anon_avro])
