"""Latency probes against a running citysieve worker: open-loop latency, window close delay.

    .venv/bin/python perf/probes.py [--rate 1000] [--seconds 20] [--seed 7] [--windows 5]

The two probe functions are for the perf harness, which owns the broker and the worker
and calls them while a worker runs (dataset wifi_presence, topics under
``settings.topic_prefix``):

* :func:`latency_probe`: events at a fixed rate, scheduled by the clock (open loop),
  event time "now"; the delay from each event's scheduled send time to its anonymized
  record arriving on ``iot.anon.wifi_presence``.
* :func:`window_close_probe`: the delay from the event that closes a window (its
  watermark passing end + allowed lateness) to the window's Parquet files being
  visible in the sink, split into raw -> anon, anon -> window closed, closed -> file.
  Its event times are on a fixed past day, so run it **before** anything that sends
  live event times on the same topics (see its docstring).

``main`` runs both on a broker and worker of its own, prints a table and the JSON.
Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts the local broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citysieve.policy.derive import tier_schemas  # noqa: E402
from citysieve.policy.loader import load_policies, load_policy  # noqa: E402
from citysieve.settings import Settings  # noqa: E402
from connectors.avro_wire import AvroDecoder  # noqa: E402
from connectors.kafka_io import Outgoing, read_topic, send_grouped  # noqa: E402
from connectors.simulator import Simulator  # noqa: E402
from connectors.sink import window_file_name  # noqa: E402
from connectors.testing import test_broker  # noqa: E402
from streams.runtime import prepare_topics, spawn_worker, stop_worker  # noqa: E402
from transforms.open_tier import window_config  # noqa: E402

DATASET = "wifi_presence"
KEYS_ENV = {
    "CITYSIEVE_PSEUDONYM_KEY": "YmVuY2htYXJrLXBzZXVkb255bS1rZXktMzItYnl0ZXMtb2s=",
    "CITYSIEVE_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}
# Window probe event times: a fixed past day, 23 days into a 30-day pseudonym epoch (so
# a subject keeps its pseudonym, and its anon partition, through every round).
WINDOW_DAY = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
POOL_MAX = 50_000  # distinct simulated events cycled by the latency probe
H_WINDOW_START = "citysieve.window.start"  # headers of iot.open rows (streams/windowing.py)
H_PARTITION = "citysieve.source.partition"


# --------------------------------------------------------------------------- helpers


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an ascending sequence (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def _summary(values: Iterable[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "min": ordered[0],
        "p50": _quantile(ordered, 0.50),
        "p90": _quantile(ordered, 0.90),
        "p99": _quantile(ordered, 0.99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def _producer(bootstrap: str, settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=0, **settings.kafka_client_options()
    )


class _Tail:
    """Reads every partition of a topic from the end offsets taken at start (no group),
    in a background task, and hands each record and its receipt time to ``on_record``."""

    def __init__(
        self,
        bootstrap: str,
        settings: Settings,
        topic: str,
        on_record: Callable[[ConsumerRecord[bytes, bytes], float], None],
    ) -> None:
        self.topic = topic
        self.on_record = on_record
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            **settings.kafka_client_options(),
        )
        self.partitions = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> _Tail:
        await self.consumer.start()
        await self.consumer._client.force_metadata_update()
        parts = sorted(self.consumer.partitions_for_topic(self.topic) or ())
        if not parts:
            await self.consumer.stop()
            raise RuntimeError(f"topic {self.topic} has no partitions: were topics prepared?")
        tps = [TopicPartition(self.topic, p) for p in parts]
        self.consumer.assign(tps)
        for tp, offset in (await self.consumer.end_offsets(tps)).items():
            self.consumer.seek(tp, offset)
        self.partitions = len(tps)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            received = time.time()
            for records in batch.values():
                for record in records:
                    self.on_record(record, received)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


# --------------------------------------------------------------------------- latency


async def latency_probe(
    bootstrap: str,
    settings: Settings,
    rate: float,
    seconds: float,
    seed: int,
    *,
    grace_s: float = 15.0,
    tick_s: float = 0.01,
) -> dict[str, Any]:
    """Open-loop latency raw -> anon at ``rate`` events/s for ``seconds``.

    Every ``tick_s`` the sender hands the producer the events due by the clock (it never
    waits for acknowledgements, so a slow pipeline does not slow it down). Each event is
    a simulated wifi_presence event (subjects and sensors from ``seed``) with a fresh
    ``event_id`` and event time "now". A consumer with no group, started at the anon
    topic's end offsets before the load, records when each anonymized record arrives.

    Latency is from the event's *scheduled* send time (so a sender that falls behind is
    not hidden: coordinated omission), to the record received by the probe; the same to
    the anon record's broker timestamp (when the worker produced it) is reported too.
    ``lost``: sent but not seen within ``grace_s`` after the last send. Event times are
    live, so the window stage's watermark moves to now: see :func:`window_close_probe`.
    """
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    policy = load_policy(DATASET, settings.policy_dir)
    decoder = AvroDecoder([tier_schemas(policy).anon_avro])
    raw = settings.topic("raw", DATASET)
    total = max(1, round(rate * seconds))
    start_day = datetime(2026, 1, 1, tzinfo=UTC)
    pool = [
        (e.key, json.loads(e.value))
        for e in Simulator(DATASET, seed=seed, start=start_day).events(min(total, POOL_MAX))
    ]
    scheduled: dict[str, float] = {}
    arrived: dict[str, tuple[float, float]] = {}  # event_id -> (received, record timestamp)
    undecodable = 0

    def on_record(record: ConsumerRecord[bytes, bytes], received: float) -> None:
        nonlocal undecodable
        try:
            event_id = decoder.decode(record.value or b"")["event_id"]
        except Exception:
            undecodable += 1
            return
        if event_id in scheduled and event_id not in arrived:
            arrived[event_id] = (received, record.timestamp / 1000)

    tail = await _Tail(bootstrap, settings, settings.topic("anon", DATASET), on_record).start()
    producer = _producer(bootstrap, settings)
    await producer.start()
    sends: set[asyncio.Task[None]] = set()
    acked = failed = 0
    max_lag = 0.0

    def on_sent(task: asyncio.Task[None], *, n: int) -> None:
        nonlocal acked, failed
        sends.discard(task)
        if task.cancelled() or task.exception() is not None:
            failed += n
        else:
            acked += n

    loop = asyncio.get_running_loop()
    try:
        began, wall0, sent = loop.time(), time.time(), 0
        while sent < total:
            now = loop.time()
            due = min(total, math.floor((now - began) * rate) + 1)
            if due > sent:
                stamp = time.time()
                max_lag = max(max_lag, stamp - (wall0 + sent / rate))
                observed = _iso(stamp)
                batch = []
                for i in range(sent, due):
                    key, template = pool[i % len(pool)]
                    event_id = str(uuid.uuid4())
                    value = {**template, "event_id": event_id, "observed_at": observed}
                    batch.append(Outgoing(raw, key, json.dumps(value).encode()))
                    scheduled[event_id] = wall0 + i / rate
                task = asyncio.create_task(send_grouped(producer, batch))
                task.add_done_callback(functools.partial(on_sent, n=len(batch)))
                sends.add(task)
                sent = due
            await asyncio.sleep(tick_s - (loop.time() - began) % tick_s)
        send_seconds = loop.time() - began
        if sends:
            await asyncio.gather(*list(sends), return_exceptions=True)
        deadline = loop.time() + grace_s
        while len(arrived) < len(scheduled) and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()
        await tail.stop()

    to_received = [arrived[e][0] - scheduled[e] for e in arrived]
    to_produced = [arrived[e][1] - scheduled[e] for e in arrived]
    received = _summary(to_received)
    return {
        "probe": "latency",
        "dataset": DATASET,
        "target_rate": rate,
        "seconds": seconds,
        "sent": total,
        "achieved_rate": total / send_seconds,
        "acked": acked,
        "send_failed": failed,
        "max_sender_lag_s": max_lag,
        "seen": len(arrived),
        "lost": len(scheduled) - len(arrived),
        "grace_s": grace_s,
        "undecodable": undecodable,
        "latency_s": received,
        "latency_to_anon_produced_s": _summary(to_produced),
        "batch_within_s": settings.batch_within_s,
        "batch_size": settings.batch_size,
    }


# --------------------------------------------------------------------------- window close


@dataclass
class _AnonSeen:
    partition: int
    pseudonym: str
    window_start: int
    received: float
    produced: float


@dataclass
class _WindowRound:
    start: datetime
    expected: set[int] = field(default_factory=set)  # anon partitions that will publish


async def window_close_probe(
    bootstrap: str,
    settings: Settings,
    sink_dir: Path,
    seed: int,
    *,
    windows: int = 5,
    subjects: int = 120,
    day: datetime = WINDOW_DAY,
    poll_s: float = 0.02,
    timeout_s: float = 30.0,
    first_timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Delay from a window's close to its Parquet files being visible, for ``windows``
    consecutive windows of ``day``.

    Per window W (tumbling, size and allowed lateness from the wifi_presence policy):

    1. ``subjects`` distinct devices each send one event in W at one sensor, spread
       over every raw partition; the probe waits until all are on the anon topic (which
       shows which anon partition each device's pseudonym hashes to), then 2 to 3
       ``batch_within_s`` more (a random phase against the agents' batch timers), so
       the close below does not include processing W's own events;
    2. at t0, one event per anon partition (a device known to hash there) stamped
       exactly W's end + allowed lateness: every anon partition's watermark reaches the
       close. These events land in the next window (W + 1), which the next round fills;
    3. the sink directory is polled every ``poll_s`` until every W file is visible
       (one file per anon partition that had >= k subjects of W; see
       docs/windows.md): t1. Files appear by atomic rename, so a visible file is whole.

    One more window than ``windows`` is run: the first is a warm-up (reported with
    ``warmup: true``, left out of the summary), as the window stage's first events of a
    partition read the whole marks topic and the sink writes ``datapackage.json`` once.

    Reported per window: ``delay_s`` = t1 - t0 (what a user sees, raw -> anon
    included), the first file's delay, and the split: ``raw_to_anon_s`` (last closing
    event's anon record, broker timestamp), ``closed_s`` (last W row on ``iot.open``,
    broker timestamp: when the window stage emitted the window), ``closed_to_visible_s``
    (t1 minus that: the sink stage), and ``file_mtime_s`` (poll-independent write time).
    ``closed_by_watermark`` is False when a W row was produced before t0 (e.g. by the
    idle timer, ``settings.idle_close_s``, which the probe's rounds must stay well under).

    Ordering requirement: the watermark is per anon partition and only moves forward.
    Run this probe on a fresh topic prefix, or on topics whose events so far were all
    before ``day`` (the latency probe sends live times: run it *after* this one). If a
    mark on ``iot.marks`` shows a watermark past ``day``, the probe returns an error
    without sending; an unmarked watermark past ``day`` shows up as a timeout.
    """
    policy = load_policy(DATASET, settings.policy_dir)
    config = window_config(policy)
    window_s, lateness_s, k = config.window_s, config.lateness_s, policy.k or 1
    decoder = AvroDecoder([tier_schemas(policy).anon_avro])
    day = day.astimezone(UTC)
    day -= timedelta(seconds=int(day.timestamp()) % window_s)
    raw = settings.topic("raw", DATASET)
    result: dict[str, Any] = {
        "probe": "window_close",
        "dataset": DATASET,
        "window_s": window_s,
        "allowed_lateness_s": lateness_s,
        "k": k,
        "subjects_per_window": subjects,
        "poll_s": poll_s,
        "idle_close_s": settings.idle_close_s,
        "batch_within_s": settings.batch_within_s,
        "windows": [],
    }

    watermark = await _marked_watermark(bootstrap, settings)
    if watermark is not None and watermark >= day:
        result["error"] = (
            f"a window stage watermark is already at {watermark.isoformat()}, past the probe's "
            f"day {day.isoformat()}: run this probe on a fresh topic prefix, before live events"
        )
        return result

    anon_seen: dict[str, _AnonSeen] = {}
    open_rows: dict[tuple[int, int], list[float]] = {}  # (window start, partition) -> ts

    def on_anon(record: ConsumerRecord[bytes, bytes], received: float) -> None:
        try:
            value = decoder.decode(record.value or b"")
        except Exception:
            return
        when = int(value["observed_at"].timestamp())
        anon_seen.setdefault(
            value["event_id"],
            _AnonSeen(
                record.partition,
                value["subject_pseudonym"],
                when - when % window_s,
                received,
                record.timestamp / 1000,
            ),
        )

    def on_open(record: ConsumerRecord[bytes, bytes], received: float) -> None:
        headers = {k: v.decode() for k, v in record.headers}
        if H_WINDOW_START in headers and H_PARTITION in headers:
            key = (int(headers[H_WINDOW_START]), int(headers[H_PARTITION]))
            open_rows.setdefault(key, []).append(record.timestamp / 1000)

    rng = random.Random(f"citysieve.probes:{seed}")
    template = json.loads(next(iter(Simulator(DATASET, seed=seed, start=day).events(1))).value)
    macs = _distinct_macs(rng, subjects)
    anon_tail = await _Tail(bootstrap, settings, settings.topic("anon", DATASET), on_anon).start()
    open_tail = await _Tail(bootstrap, settings, settings.topic("open", DATASET), on_open).start()
    producer = _producer(bootstrap, settings)
    await producer.start()
    raw_partitions = sorted(await producer.partitions_for(raw))
    event_mac: dict[str, str] = {}
    loop = asyncio.get_running_loop()

    def event(mac: str, at: datetime) -> tuple[str, bytes]:
        event_id = str(uuid.uuid4())
        event_mac[event_id] = mac
        value = {
            **template,
            "event_id": event_id,
            "observed_at": at.isoformat(),
            "mac": mac,
            "rssi": rng.randint(-90, -40),
        }
        return event_id, json.dumps(value).encode()

    async def send(events: list[tuple[str, bytes]]) -> None:
        """Round-robin over every raw partition (the key stays the sensor id)."""
        key = str(template["sensor_id"]).encode()
        await send_grouped(
            producer,
            [
                Outgoing(raw, key, value, (), raw_partitions[i % len(raw_partitions)])
                for i, (_, value) in enumerate(events)
            ],
        )

    async def wait_seen(ids: Sequence[str], limit: float) -> bool:
        """Until every event of ``ids`` is on the anon topic; False after ``limit`` s."""
        deadline = loop.time() + limit
        while not all(e in anon_seen for e in ids):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(poll_s)
        return True

    try:
        for index in range(windows + 1):  # round 0 warms the stages up, not counted
            w = _WindowRound(day + timedelta(seconds=index * window_s))
            start_s = int(w.start.timestamp())
            # 1. W's events, spread over the first 10 minutes of the window
            spread = min(window_s - 60, 600)
            fill = [
                event(mac, w.start + timedelta(seconds=30 + spread * j // max(1, subjects)))
                for j, mac in enumerate(macs)
            ]
            await send(fill)
            fill_ids = [e for e, _ in fill]
            limit = first_timeout_s if index == 0 else timeout_s
            if not await wait_seen(fill_ids, limit):
                missing = sum(e not in anon_seen for e in fill_ids)
                result["error"] = f"window {w.start}: {missing} events never reached anon"
                break
            in_w = [a for a in anon_seen.values() if a.window_start == start_s]
            by_partition: dict[int, set[str]] = {}
            for a in in_w:
                by_partition.setdefault(a.partition, set()).add(a.pseudonym)
            w.expected = {p for p, subs in by_partition.items() if len(subs) >= k}
            closer_mac: dict[int, str] = {}
            for event_id in fill_ids:
                closer_mac.setdefault(anon_seen[event_id].partition, event_mac[event_id])
            uncovered = set(range(anon_tail.partitions)) - set(closer_mac)
            # Let the window stage take W's events (they reached anon, not necessarily the
            # stage), at a random phase: the agents poll every batch_within_s, and a t0
            # right after the anon stage's tick would always wait a whole period.
            within = settings.batch_within_s
            await asyncio.sleep(2 * within + rng.uniform(0, within))
            # 2. at t0, one event per anon partition at W's end + allowed lateness
            close_at = w.start + timedelta(seconds=window_s + lateness_s)
            closers = [event(mac, close_at) for _, mac in sorted(closer_mac.items())]
            t0 = time.time()
            await send(closers)
            # 3. poll the sink for W's files
            directory = sink_dir / DATASET / f"date={w.start:%Y-%m-%d}"
            name = window_file_name(w.start, window_s, 0, 0, 0)  # the sink's naming
            prefix = name[: name.index("-p0-")]
            visible, complete = await _poll_files(
                directory, prefix, w.expected, poll_s=poll_s, timeout_s=timeout_s
            )
            closer_ids = [e for e, _ in closers]
            await wait_seen(closer_ids, 2.0)
            result["windows"].append(
                _window_figures(
                    w, t0, visible, open_rows, [anon_seen[e] for e in closer_ids if e in anon_seen]
                )
                | {
                    "warmup": index == 0,
                    "uncovered_anon_partitions": sorted(uncovered),
                    "complete": complete,
                }
            )
            if not complete:
                result["error"] = (
                    f"window {w.start}: files of anon partitions "
                    f"{sorted(w.expected - set(visible))} not visible after {timeout_s}s"
                )
                break
    finally:
        await producer.stop()
        await anon_tail.stop()
        await open_tail.stop()

    measured = [w for w in result["windows"] if w["complete"] and not w["warmup"]]
    delays = [w["delay_s"] for w in measured]
    if delays:
        result["delay_s"] = {
            "min": min(delays),
            "median": statistics.median(delays),
            "max": max(delays),
        }
        for part in ("raw_to_anon_s", "closed_s", "closed_to_visible_s"):
            values = [w[part] for w in measured if w[part] is not None]
            if values:
                result[f"median_{part}"] = statistics.median(values)
    return result


async def _poll_files(
    directory: Path, prefix: str, expected: set[int], *, poll_s: float, timeout_s: float
) -> tuple[dict[int, tuple[float, Path]], bool]:
    """Poll for ``<prefix>-p<partition>-o*.parquet`` until a file of every ``expected``
    partition is visible: (partition -> (first seen, path), all visible in time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    visible: dict[int, tuple[float, Path]] = {}
    while True:
        now = time.time()
        for path in directory.glob(f"{prefix}-p*-o*.parquet"):
            partition = int(path.name[len(prefix) + 2 :].split("-", 1)[0])
            visible.setdefault(partition, (now, path))
        if expected <= set(visible):
            return visible, True
        if loop.time() > deadline:
            return visible, False
        await asyncio.sleep(poll_s)


def _window_figures(
    w: _WindowRound,
    t0: float,
    visible: dict[int, tuple[float, Path]],
    open_rows: dict[tuple[int, int], list[float]],
    closers: list[_AnonSeen],
) -> dict[str, Any]:
    start_s = int(w.start.timestamp())
    seen = [visible[p][0] for p in w.expected if p in visible]
    rows = [ts for (s, _), stamps in open_rows.items() if s == start_s for ts in stamps]
    mtimes = [visible[p][1].stat().st_mtime for p in w.expected if p in visible]
    t1 = max(seen) if seen and len(seen) == len(w.expected) else None
    closed = max(rows) if rows else None
    return {
        "window_start": w.start.isoformat(),
        "files_expected": len(w.expected),
        "files_visible": len(seen),
        "delay_s": None if t1 is None else t1 - t0,
        "first_file_s": min(seen) - t0 if seen else None,
        "raw_to_anon_s": max(a.produced for a in closers) - t0 if closers else None,
        "closed_s": None if closed is None else closed - t0,
        "closed_to_visible_s": None if t1 is None or closed is None else t1 - closed,
        "file_mtime_s": max(mtimes) - t0 if mtimes else None,
        "closed_by_watermark": bool(rows) and min(rows) >= t0 - 0.002,  # ms timestamps
    }


def _distinct_macs(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct locally administered MACs (one device each)."""
    macs: set[int] = set()
    while len(macs) < n:
        macs.add((0x02 << 40) | rng.getrandbits(40))
    return [":".join(f"{(m >> s) & 0xFF:02x}" for s in range(40, -8, -8)) for m in sorted(macs)]


async def _marked_watermark(bootstrap: str, settings: Settings) -> datetime | None:
    """The highest window-stage watermark recorded on ``iot.marks`` for this app, if any."""
    prefix = f"{settings.app_id}/{DATASET}/".encode()
    marks = await read_topic(bootstrap, settings.topic("marks"), idle_s=0.3, timeout_s=10)
    best = None
    for mark in marks:
        if mark.key and mark.key.startswith(prefix) and mark.value:
            us = (json.loads(mark.value).get("meta") or {}).get("watermark_us")
            if us is not None and (best is None or us > best):
                best = us
    return None if best is None else datetime.fromtimestamp(best / 1e6, UTC)


# --------------------------------------------------------------------------- main


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 1000:,.0f} ms" if unit == "s" else f"{value:,.0f}"


def _print(console: Console, windows: dict[str, Any], latency: dict[str, Any]) -> None:
    table = Table(title="window close -> visible Parquet (wifi_presence)")
    for column in ("window", "files", "delay", "first file", "raw->anon", "closed", "sink"):
        table.add_column(column, justify="left" if column == "window" else "right")
    for w in windows["windows"]:
        table.add_row(
            w["window_start"][11:16] + (" (warm-up)" if w["warmup"] else ""),
            f"{w['files_visible']}/{w['files_expected']}",
            _fmt(w["delay_s"]),
            _fmt(w["first_file_s"]),
            _fmt(w["raw_to_anon_s"]),
            _fmt(w["closed_s"]),
            _fmt(w["closed_to_visible_s"]),
        )
    console.print(table)
    table = Table(title=f"open-loop latency raw -> anon at {latency['target_rate']:,.0f} ev/s")
    for column in ("sent", "achieved/s", "p50", "p90", "p99", "max", "lost"):
        table.add_column(column, justify="right")
    lat = latency["latency_s"]
    table.add_row(
        f"{latency['sent']:,}",
        f"{latency['achieved_rate']:,.0f}",
        *(_fmt(lat.get(q)) for q in ("p50", "p90", "p99", "max")),
        f"{latency['lost']:,}",
    )
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="latency load, events/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="latency load duration")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--windows", type=int, default=5)
    args = parser.parse_args()
    console = Console(stderr=True)
    tmp = Path(tempfile.mkdtemp(prefix="citysieve-probes-"))  # kept: the worker log is there
    console.print(f"work dir {tmp}")
    with test_broker(tmp / "kafka") as broker:
        settings = Settings(
            bootstrap_servers=broker.bootstrap,
            topic_prefix="probe.",
            app_id="probe-citysieve",
            state_dir=tmp / "state",
            sink_url=str(tmp / "public"),
        )
        asyncio.run(prepare_topics(settings, load_policies(settings.policy_dir)))
        worker = spawn_worker(settings, tmp / "worker.log", KEYS_ENV)
        try:
            console.print("window close probe (waits for the worker to start)")
            windows = asyncio.run(
                window_close_probe(
                    broker.bootstrap, settings, tmp / "public", args.seed, windows=args.windows
                )
            )
            console.print(f"latency probe: {args.rate:,.0f} ev/s for {args.seconds:.0f} s")
            latency = asyncio.run(
                latency_probe(broker.bootstrap, settings, args.rate, args.seconds, args.seed)
            )
        finally:
            stop_worker(worker)
    _print(console, windows, latency)
    print(json.dumps({"kafka": broker.version, "window_close": windows, "latency": latency}))
    return 1 if "error" in windows else 0


if __name__ == "__main__":
    sys.exit(main())
