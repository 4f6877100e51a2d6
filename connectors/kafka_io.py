"""Small aiokafka helpers shared by the CLI, the demo, tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 1
    replication: int = 1
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


async def create_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(s.name, s.partitions, s.replication, topic_configs=dict(s.config))
            for s in specs
            if s.name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
        return [t.name for t in new]
    finally:
        await admin.close()


class Producer:
    """A long-lived producer (acks=all) for sending many batches; use ``async with``."""

    def __init__(self, bootstrap: str, **client_options: Any) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=5, **client_options
        )

    async def __aenter__(self) -> Producer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send_batch(
        self,
        messages: Sequence[tuple[str, bytes | None, bytes | None]],
        headers: Sequence[Sequence[tuple[str, bytes]]] | None = None,
        *,
        partition: int | None = None,
    ) -> None:
        """Send ``(topic, key, value)`` messages (to ``partition`` if given, else by key);
        return once the broker acknowledged all."""
        futures = [
            await self._producer.send(
                topic,
                value=value,
                key=key,
                partition=partition,
                headers=list(headers[i]) if headers else None,
            )
            for i, (topic, key, value) in enumerate(messages)
        ]
        await asyncio.gather(*futures)


async def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    keys: Sequence[bytes | None] | None = None,
) -> None:
    """Send values to one topic (keys optional) and wait for every acknowledgement."""
    async with Producer(bootstrap) as producer:
        await producer.send_batch(
            [(topic, keys[i] if keys else None, v) for i, v in enumerate(values)]
        )


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int | None = None,
    timeout_s: float = 30.0,
    idle_s: float = 2.0,
) -> list[Message]:
    """Read a topic from the beginning, with no consumer group.

    Stops when ``expect`` messages arrived, or when nothing new came for ``idle_s``
    after the end offsets were reached, or at ``timeout_s``.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    out: list[Message] = []
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last_new = loop.time()
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp_messages in batch.values():
                for m in tp_messages:
                    out.append(
                        Message(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers))
                    )
                last_new = loop.time()
            if expect is not None and len(out) >= expect:
                break
            if expect is None and loop.time() - last_new > idle_s:
                break
        return out
    finally:
        await consumer.stop()


class Outgoing(Protocol):
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]: ...


async def send_all(
    bootstrap: str, sends: Sequence[tuple[str, Outgoing]], **client_options: Any
) -> None:
    """Send messages (with headers) and wait until the broker acknowledged every one."""
    if not sends:
        return
    async with Producer(bootstrap, **client_options) as producer:
        await producer.send_batch(
            [(topic, m.key, m.value) for topic, m in sends], [m.headers for _, m in sends]
        )


async def topic_counts(
    bootstrap: str, topics: Sequence[str], **client_options: Any
) -> dict[str, int]:
    """Messages currently held per topic (end minus beginning offsets, all partitions)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, **client_options)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return dict.fromkeys(topics, 0)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        counts = dict.fromkeys(topics, 0)
        for tp in tps:
            counts[tp.topic] += ends[tp] - starts[tp]
        return counts
    finally:
        await consumer.stop()
