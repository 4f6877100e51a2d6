"""The Faust application: wiring only. Per dataset, ``iot.raw.<d>`` -> ``iot.anon.<d>``.

Delivery guarantee (at-least-once): each agent takes a batch of events, turns it
into output records with :class:`transforms.pipeline.RawProcessor` (pure), sends
every output and waits until the broker acknowledged all of them; only then does
the agent ask for the next batch, which is when Faust marks the batch's offsets
as processed and may commit them. Agents run with concurrency 1 and scale by
partitions and workers (Faust's concurrency > 1 can commit past an unprocessed
message).

If delivery fails, the worker exits at once without committing (exit code 75):
Faust would otherwise mark the failed batch as processed when the agent's
iterator is closed. The restarted worker reprocesses the batch; duplicates carry
the same ``event_id``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import faust

from citysieve.clock import Clock
from citysieve.settings import Settings
from connectors.audit import encode_audit
from connectors.kafka_io import Outgoing, send_grouped
from streams import faust_fixes
from transforms.pipeline import Output, RawInput, RawProcessor

if TYPE_CHECKING:
    from streams.runtime import DatasetRuntime

log = logging.getLogger(__name__)

EXIT_DELIVERY_FAILED = 75


def faust_credentials(settings: Settings) -> Any:
    """Faust's credentials object for the configured TLS / SASL settings (None for plaintext)."""
    opts = settings.kafka_client_options()
    if settings.sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=opts["sasl_plain_password"],
            ssl_context=opts.get("ssl_context"),
            mechanism=settings.sasl_mechanism,
        )
    if "ssl_context" in opts:
        return faust.SSLCredentials(opts["ssl_context"])
    return None


def create_app(
    settings: Settings, datasets: Mapping[str, DatasetRuntime], clock: Clock
) -> faust.App:
    if not settings.bootstrap_servers:
        raise ValueError("create_app needs settings.bootstrap_servers")
    faust_fixes.apply()  # never commit past an unacknowledged message (see the module)
    brokers = [f"kafka://{b.strip()}" for b in settings.bootstrap_servers.split(",")]
    app = faust.App(
        settings.group_id,
        broker=brokers,
        broker_credentials=faust_credentials(settings),
        store="memory://",
        web_enabled=False,
        topic_allow_declare=False,  # the pipeline creates its topics with policy retention
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        # The window stage holds the first event of every open window unacknowledged (its
        # restart point). Faust's default waits for every in-flight event at a rebalance,
        # which would stall the worker until those windows close; revoked partitions are
        # rebuilt by replay from the committed offset instead.
        stream_wait_empty=False,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        datadir=str(settings.state_dir or ".citysieve-worker"),
    )
    audit_topic = settings.topic("audit")
    for dataset, runtime in datasets.items():
        if settings.stage in ("all", "anonymize"):
            processor = runtime.processor
            source = app.topic(
                settings.topic("raw", dataset), value_serializer="raw", key_serializer="raw"
            )
            agent = _anonymize_agent(
                app,
                processor,
                anon_topic=settings.topic("anon", dataset),
                dlq_topic=settings.topic("dlq", dataset),
                audit_topic=audit_topic,
                batch_size=settings.batch_size,
                within_s=settings.batch_within_s,
            )
            app.agent(source, name=f"anonymize_{dataset}", concurrency=1)(agent)
        if settings.stage in ("all", "publish"):
            _wire_open_tier(app, settings, runtime, clock)
    return app


def _wire_open_tier(
    app: faust.App, settings: Settings, runtime: DatasetRuntime, clock: Clock
) -> None:
    """anon -> windows -> open -> sink, for one dataset (see streams/windowing.py)."""
    from streams.windowing import SinkStage, WindowStage

    dataset = runtime.policy.dataset
    windows = WindowStage(
        app, settings, runtime.policy, runtime.schemas, clock, settings.idle_close_s
    )
    sink = SinkStage(app, settings, runtime.policy, runtime.schemas, clock)
    anon = app.topic(settings.topic("anon", dataset), value_serializer="raw", key_serializer="raw")
    rows = app.topic(settings.topic("open", dataset), value_serializer="raw", key_serializer="raw")
    batch, within = settings.batch_size, settings.batch_within_s

    async def aggregate(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within):
            await windows.handle(list(events))

    async def publish(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within):
            await sink.handle(list(events))

    async def close_idle() -> None:
        await windows.close_idle()

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked = kwargs.get("revoked", args[0] if args else set())
        windows.forget({tp.partition for tp in revoked if tp.topic == anon.get_topic_name()})

    for fn, name in ((aggregate, "window"), (publish, "sink"), (close_idle, "close_idle")):
        fn.__name__ = f"{name}_{dataset}"
        fn.__qualname__ = fn.__name__
    app.agent(anon, name=f"window_{dataset}", concurrency=1)(aggregate)
    app.agent(rows, name=f"sink_{dataset}", concurrency=1)(publish)
    app.timer(interval=1.0, name=f"close_idle_{dataset}")(close_idle)
    app.on_partitions_revoked.connect(on_revoked, weak=False)


def _anonymize_agent(
    app: faust.App,
    processor: RawProcessor,
    *,
    anon_topic: str,
    dlq_topic: str,
    audit_topic: str,
    batch_size: int,
    within_s: float,
) -> Any:
    async def anonymize(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=within_s):
            batch = [
                RawInput(
                    value=e.message.value,
                    key=e.message.key,
                    topic=e.message.topic,
                    partition=e.message.partition,
                    offset=e.message.offset,
                )
                for e in events
            ]
            outcome = processor.process(batch)
            sends: list[tuple[str, Output]] = [(anon_topic, o) for o in outcome.anon]
            sends += [(dlq_topic, o) for o in outcome.dead]
            sends += [(audit_topic, Output(*encode_audit(a))) for a in outcome.audit]
            await deliver_all(app, sends)

    anonymize.__name__ = f"anonymize_{processor.dataset}"
    return anonymize


async def deliver_all(app: faust.App, sends: Sequence[tuple[str, Output]]) -> None:
    """Send every output and wait for the broker's acknowledgement of each; exit on failure.

    Outputs go as one record batch per topic partition through the aiokafka producer
    under Faust's (``connectors.kafka_io.send_grouped``): Faust's per-message ``send``
    cost more CPU than the whole anonymization of a structured event.
    """
    try:
        await send_grouped(
            faust_fixes.kafka_producer(app),
            [Outgoing(topic, out.key, out.value, out.headers) for topic, out in sends],
        )
    except Exception as exc:
        log.critical(
            "delivery to Kafka failed (%s); exiting without committing so the batch is "
            "reprocessed after restart",
            type(exc).__name__,
        )
        logging.shutdown()
        os._exit(EXIT_DELIVERY_FAILED)
