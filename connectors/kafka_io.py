"""Small aiokafka helpers shared by the CLI, the demo, tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner


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
            await wait_for_leaders(admin, [t.name for t in new])
        return [t.name for t in new]
    finally:
        await admin.close()


async def wait_for_leaders(
    admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float = 15.0
) -> None:
    """Wait until every partition of ``topics`` has a leader (or ``timeout_s`` passed).

    A topic is usable a moment after it is created; a producer that writes at once gets
    NotLeaderForPartition, retries and logs a warning per partition.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        described = await admin.describe_topics(topics)
        partitions = [p for t in described for p in t["partitions"]]
        if (
            len(described) == len(topics)
            and all(not t["error_code"] for t in described)
            and partitions
            and all(p["leader"] >= 0 for p in partitions)
        ):
            return
        await asyncio.sleep(0.1)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send; ``partition`` None means by key (murmur2, as Java clients do)."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    partition: int | None = None


async def send_grouped(producer: AIOKafkaProducer, messages: Iterable[Outgoing]) -> None:
    """Send ``messages`` as one record batch per topic partition; return once all are acked.

    aiokafka's per-message ``send`` costs a future, a partitioner call and an
    accumulator lookup per record, which a stream worker pays on every event.
    Grouping first and handing whole batches to the accumulator keeps the order
    within each partition and the same key-to-partition mapping, for a fraction
    of the CPU. Raises what the producer raises; a failed batch fails the call.
    """
    partitioner = DefaultPartitioner()
    partitions: dict[str, list[int]] = {}
    groups: dict[tuple[str, int], list[Outgoing]] = defaultdict(list)
    for message in messages:
        if message.partition is not None:
            groups[message.topic, message.partition].append(message)
            continue
        known = partitions.get(message.topic)
        if known is None:
            known = partitions[message.topic] = sorted(await producer.partitions_for(message.topic))
        groups[message.topic, partitioner(message.key, known, known)].append(message)
    acks: list[Awaitable[Any]] = []
    for (topic, partition), group in groups.items():
        batch = producer.create_batch()
        for message in group:
            if _append(batch, message):
                continue
            batch.close()
            acks.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            if not _append(batch, message):
                raise MessageSizeTooLargeError(
                    f"a message of {len(message.value or b'')} bytes for {topic} does not fit "
                    "in a producer batch (raise the producer's max_batch_size)"
                )
        batch.close()
        acks.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*acks)


def _append(batch: Any, message: Outgoing) -> bool:
    """Add ``message`` to ``batch``; False when the batch is full."""
    added = batch.append(
        timestamp=None, key=message.key, value=message.value, headers=list(message.headers)
    )
    return added is not None


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
        await send_grouped(
            self._producer,
            (
                Outgoing(topic, key, value, tuple(headers[i]) if headers else (), partition)
                for i, (topic, key, value) in enumerate(messages)
            ),
        )


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
    to_end: bool = False,
    **client_options: Any,
) -> list[Message]:
    """Read a topic from the beginning, with no consumer group.

    Stops when ``expect`` messages arrived; with ``to_end``, as soon as it has read up
    to the end offsets of when it started; otherwise when nothing new came for
    ``idle_s``; and at ``timeout_s`` in any case.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options,
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
        ends = await consumer.end_offsets(tps) if to_end else {}
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
            if to_end and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                break
            if expect is None and not to_end and loop.time() - last_new > idle_s:
                break
        return out
    finally:
        await consumer.stop()


class Payload(Protocol):
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]: ...


async def send_all(
    bootstrap: str, sends: Sequence[tuple[str, Payload]], **client_options: Any
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
