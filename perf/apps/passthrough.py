"""The Faust ceiling: batches of raw bytes forwarded to another topic, deliveries awaited,
the same loop shape as citysieve's agents but with no transform.

BENCH_GROUPED=1 sends each batch as one record batch per partition, the way citysieve's
``deliver_all`` does; unset, every message goes through Faust's own ``send``.
"""

import os
import sys

import faust

sys.path.insert(0, os.environ["BENCH_ROOT"])

from connectors.kafka_io import Outgoing, send_grouped
from streams.faust_fixes import kafka_producer

app = faust.App(
    os.environ["BENCH_APP_ID"],
    broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}",
    store="memory://",
    web_enabled=False,
    topic_allow_declare=False,
    topic_disable_leader=True,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
)
source = app.topic(os.environ["BENCH_IN"], value_serializer="raw", key_serializer="raw")
OUT = os.environ["BENCH_OUT"]
GROUPED = os.environ.get("BENCH_GROUPED") == "1"


@app.agent(source, concurrency=1)
async def passthrough(stream):  # type: ignore[no-untyped-def]
    async for events in stream.take_events(500, within=0.5):
        if GROUPED:
            messages = [Outgoing(OUT, e.message.key, e.message.value) for e in events]
            await send_grouped(kafka_producer(app), messages)
            continue
        pending = [
            await app.producer.send(OUT, e.message.key, e.message.value, None, None, None)
            for e in events
        ]
        for ack in pending:
            await ack
