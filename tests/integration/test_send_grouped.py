"""Grouped sends land where per-message sends would, in order, whatever the batch size."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from connectors.kafka_io import Outgoing, TopicSpec, create_topics, read_topic, send_grouped
from connectors.testing import TestBroker

pytestmark = pytest.mark.integration


def test_when_sent_grouped_then_each_key_lands_on_its_murmur2_partition_in_order(
    kafka: TestBroker, topic_prefix: str
) -> None:
    topic, dlq = f"{topic_prefix}grouped", f"{topic_prefix}grouped-dlq"
    asyncio.run(create_topics(kafka.bootstrap, [TopicSpec(topic, 6), TopicSpec(dlq, 2)]))
    # 3000 values of 100 bytes over 40 keys: several producer batches per partition.
    messages = [
        Outgoing(topic, f"device-{i % 40}".encode(), f"{i:06d}".encode().ljust(100, b"."))
        for i in range(3000)
    ]
    messages.append(Outgoing(dlq, None, b"unkeyed", (("reason", b"not_json"),), partition=1))

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        await producer.start()
        try:
            await send_grouped(producer, messages)
        finally:
            await producer.stop()

    asyncio.run(send())
    received = asyncio.run(read_topic(kafka.bootstrap, topic, to_end=True, timeout_s=30))
    assert len(received) == 3000
    for m in received:
        assert m.key is not None
        assert m.partition == (murmur2(m.key) & 0x7FFFFFFF) % 6
    by_key: dict[bytes, list[int]] = {}
    for m in sorted(received, key=lambda m: (m.partition, m.offset)):
        assert m.key is not None and m.value is not None
        by_key.setdefault(m.key, []).append(int(m.value[:6]))
    assert len(by_key) == 40
    assert all(seq == sorted(seq) for seq in by_key.values())
    (dead,) = asyncio.run(read_topic(kafka.bootstrap, dlq, expect=1, timeout_s=30))
    assert (dead.partition, dead.value, dead.headers) == (1, b"unkeyed", (("reason", b"not_json"),))
