"""The Faust ceiling: batches of raw bytes forwarded to another topic, deliveries awaited,
the same loop shape as citysieve's agents but with no transform."""

import asyncio
import os

import faust

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


@app.agent(source, concurrency=1)
async def passthrough(stream):  # type: ignore[no-untyped-def]
    async for events in stream.take_events(500, within=0.5):
        pending = [
            await app.producer.send(OUT, e.message.key, e.message.value, None, None, None)
            for e in events
        ]
        await asyncio.gather(*pending)
