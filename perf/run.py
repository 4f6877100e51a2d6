"""The pipeline against its ceilings, in one run on one broker: ``make perf``.

    .venv/bin/python perf/run.py [--events 1000000] [--ceiling-events 300000]
                                 [--free-text-events 20000] [--seed 7] [--sweeps]

1. Generates seeded events (``--events`` wifi_presence, ``--free-text-events``
   service_requests) and pre-fills the raw topics with aiokafka: the produce ceiling.
2. Drains the wifi_presence raw topic with a bare aiokafka consumer (three repeats):
   the transport ceiling.
3. Drains the same events through a Faust pass-through agent, once with Faust's
   per-message send and once with citysieve's grouped send: the framework ceilings
   (over the first ``--ceiling-events``).
4. Drains every event through ``citysieve worker --stage anonymize`` (raw -> anon), for
   wifi_presence (structured) and service_requests (free text, Presidio), then the
   wifi_presence anon records through ``--stage publish`` (k-anonymous windows at the
   policy's k = 5 -> open rows -> Parquet).
5. Probes a fresh worker: window close to visible Parquet, then produce -> anon latency
   under an open-loop load at half the measured anonymize rate.
6. With ``--sweeps``, the window aggregation sweeps of ``perf/bench_windows.py``.

Each drain is sampled every quarter second (events through, the worker's CPU and
resident memory, from /proc); rates and CPU per 1k events are given as min, median and
max over five segments of equal event counts, start-up excluded. Results:
``perf/results/perf-<date>.json``. Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts
the local broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citysieve.policy.loader import load_policies  # noqa: E402
from citysieve.settings import Settings  # noqa: E402
from connectors.kafka_io import Producer, TopicSpec, create_topics  # noqa: E402
from connectors.simulator import Simulator  # noqa: E402
from connectors.testing import test_broker  # noqa: E402
from perf.measure import Drain, Sample, spread, watch  # noqa: E402
from streams.runtime import prepare_topics, spawn_worker, stop_worker  # noqa: E402

STRUCTURED, FREE_TEXT = "wifi_presence", "service_requests"
KEYS_ENV = {
    "CITYSIEVE_PSEUDONYM_KEY": "YmVuY2htYXJrLXBzZXVkb255bS1rZXktMzItYnl0ZXMtb2s=",
    "CITYSIEVE_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}
START = datetime(2026, 11, 20, tzinfo=UTC)
PACKAGES = ("faust-streaming", "aiokafka", "pyarrow", "polars", "presidio-analyzer", "fastavro")


@dataclass
class Events:
    keys: list[bytes | None]
    values: list[bytes]


def generate(dataset: str, count: int, seed: int, console: Console) -> Events:
    began = time.monotonic()
    keys: list[bytes | None] = []
    values: list[bytes] = []
    for event in Simulator(dataset, seed=seed, start=START).events(count):
        keys.append(event.key)
        values.append(event.value)
    console.print(f"generated {count:,} {dataset} events in {time.monotonic() - began:.1f} s")
    return Events(keys, values)


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_self_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def prefill(bootstrap: str, topic: str, events: Events, segments: int) -> dict[str, Any]:
    """Produce every event with acks=all in batches of 10,000: the produce ceiling."""
    chunk = 10_000
    samples = [Sample(time.monotonic(), 0, _cpu_self(), _rss_self_mb())]
    async with Producer(bootstrap) as producer:
        for i in range(0, len(events.values), chunk):
            end = min(i + chunk, len(events.values))
            await producer.send_batch(
                [(topic, events.keys[j], events.values[j]) for j in range(i, end)]
            )
            samples.append(Sample(time.monotonic(), end, _cpu_self(), _rss_self_mb()))
    return Drain("aiokafka produce", samples, _rss_self_mb(), segments).to_dict()


async def consume_once(bootstrap: str, topic: str, expect: int) -> tuple[float, float]:
    """Read ``expect`` messages with a fresh group: (events/s, CPU s per 1k events)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-consume-{time.time_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000, max_records=5000)
        seen = sum(len(v) for v in batch.values())
        began, cpu = time.monotonic(), _cpu_self()  # from the first fetch: no group join
        counted = seen
        while seen < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(v) for v in batch.values())
        seconds = time.monotonic() - began
        return (seen - counted) / seconds, (_cpu_self() - cpu) / (seen - counted) * 1000
    finally:
        await consumer.stop()


class EndOffsets:
    """Messages appended to some topics since it was opened (end offsets, all partitions)."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self.bootstrap, self.topics = bootstrap, list(topics)
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []
        self._base = 0

    async def __aenter__(self) -> EndOffsets:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self._consumer.start()
        await self._consumer._client.force_metadata_update()
        for topic in self.topics:
            parts = self._consumer.partitions_for_topic(topic) or set()
            self._tps += [TopicPartition(topic, p) for p in sorted(parts)]
        self._base = await self._total()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def _total(self) -> int:
        assert self._consumer is not None
        return sum((await self._consumer.end_offsets(self._tps)).values())

    async def __call__(self) -> int:
        return await self._total() - self._base


class WindowedEvents:
    """Events the window stage accounted for, from its audit events since it was opened:
    ``events_in`` of each closed window plus events that came too late for theirs."""

    def __init__(self, bootstrap: str, audit_topic: str, dataset: str) -> None:
        self.bootstrap, self.topic, self.dataset = bootstrap, audit_topic, dataset
        self._consumer: AIOKafkaConsumer | None = None
        self.events = 0
        self.windows = 0
        self.rows = 0
        self.suppressed = 0

    async def __aenter__(self) -> WindowedEvents:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self._consumer.start()
        await self._consumer._client.force_metadata_update()
        parts = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        for tp, offset in (await self._consumer.end_offsets(tps)).items():
            self._consumer.seek(tp, offset)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def __call__(self) -> int:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=50)
        for records in batches.values():
            for record in records:
                event = json.loads(record.value or b"{}")
                if event.get("dataset") != self.dataset:
                    continue
                if event.get("type") == "window_closed":
                    self.events += int(event["events_in"])
                    self.windows += 1
                    self.rows += int(event["rows"])
                    self.suppressed += int(event["suppressed_events"])
                elif event.get("type") == "late_events":
                    self.events += int(event["events"])
        return self.events


class Run:
    """One harness run: the broker, the work dir, the console and the figures so far."""

    def __init__(self, args: argparse.Namespace, bootstrap: str, work: Path) -> None:
        self.args, self.bootstrap, self.work = args, bootstrap, work
        self.console = Console(width=max(Console().width, 120))
        self.results: dict[str, Any] = {"stages": {}, "ratios": {}}
        self.settings = Settings(
            bootstrap_servers=bootstrap,
            topic_prefix="bench.",
            app_id="bench",
            state_dir=work / "state",
            sink_url=str(work / "public"),
            idle_close_s=3.0,
        )

    def record(self, key: str, figures: dict[str, Any]) -> None:
        self.results["stages"][key] = figures
        rate = figures.get("events_per_s", {}).get("median")
        if rate is not None:
            self.console.print(f"  {figures['name']}: median {rate:,.0f} events/s")

    async def drain(
        self,
        name: str,
        proc: subprocess.Popen[bytes],
        progress: Callable[[], Awaitable[int]],
        target: int,
    ) -> dict[str, Any]:
        with Progress(
            TextColumn(f"  {name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        ) as bar:
            task = bar.add_task(name, total=target)
            samples, peak = await watch(
                proc,
                progress,
                target,
                timeout_s=max(600.0, target / 200),
                on_sample=lambda s: bar.update(task, completed=min(s.done, target)),
            )
        return Drain(name, samples, peak, self.args.segments).to_dict()

    async def passthrough(self, name: str, grouped: bool, raw: str, target: int) -> dict[str, Any]:
        out = f"bench.pass.{'grouped' if grouped else 'single'}"
        await create_topics(self.bootstrap, [TopicSpec(out, 6)])
        env = {
            **os.environ,
            "BENCH_ROOT": str(ROOT),
            "BENCH_APP_ID": f"bench-{out}",
            "BENCH_BOOTSTRAP": self.bootstrap,
            "BENCH_IN": raw,
            "BENCH_OUT": out,
            "BENCH_GROUPED": "1" if grouped else "0",
            "PYTHONPATH": str(ROOT / "perf" / "apps"),
        }
        faust_cli = Path(sys.executable).with_name("faust")
        with (self.work / f"{out}.log").open("wb") as log:
            proc = subprocess.Popen(
                [
                    str(faust_cli),
                    "-A",
                    "passthrough",
                    "--datadir",
                    str(self.work),
                    "worker",
                    "-l",
                    "warn",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work,
            )
        try:
            async with EndOffsets(self.bootstrap, [out]) as progress:
                return await self.drain(name, proc, progress, target)
        finally:
            stop_worker(proc)

    async def worker_drain(
        self, name: str, stage: str, dataset: str, progress_of: Any, target: int
    ) -> dict[str, Any]:
        settings = self.settings.model_copy(update={"stage": stage})
        log = self.work / f"worker-{stage}-{dataset}.log"
        async with progress_of as progress:
            proc = spawn_worker(settings, log, KEYS_ENV, datasets=[dataset])
            try:
                return await self.drain(name, proc, progress, target)
            finally:
                stop_worker(proc)


async def throughput(run: Run, wifi: Events, texts: Events) -> None:
    args, bootstrap, s = run.args, run.bootstrap, run.settings
    await prepare_topics(s, load_policies(s.policy_dir))
    raw, raw_text = s.topic("raw", STRUCTURED), s.topic("raw", FREE_TEXT)
    run.console.print(f"[bold]1. pre-filling[/] {raw} with {len(wifi.values):,} events")
    run.record("aiokafka_produce", await prefill(bootstrap, raw, wifi, args.segments))
    await prefill(bootstrap, raw_text, texts, args.segments)

    run.console.print(f"[bold]2. transport ceiling[/]: aiokafka consume x{args.repeats}")
    runs = [await consume_once(bootstrap, raw, len(wifi.values)) for _ in range(args.repeats)]
    run.record(
        "aiokafka_consume",
        {
            "name": "aiokafka consume",
            "events": len(wifi.values),
            "repeats": args.repeats,
            "events_per_s": spread([r for r, _ in runs]),
            "cpu_s_per_1k_events": spread([c for _, c in runs]),
        },
    )

    ceiling = min(args.ceiling_events, len(wifi.values))
    run.console.print(f"[bold]3. framework ceiling[/]: Faust pass-through, {ceiling:,} events")
    run.record(
        "faust_passthrough",
        await run.passthrough("Faust pass-through", False, raw, ceiling),
    )
    run.record(
        "faust_passthrough_grouped",
        await run.passthrough("Faust pass-through, grouped send", True, raw, ceiling),
    )

    run.console.print("[bold]4. citysieve[/]")
    anon = s.topic("anon", STRUCTURED)
    run.record(
        "anonymize_structured",
        await run.worker_drain(
            f"raw -> anon, {STRUCTURED}",
            "anonymize",
            STRUCTURED,
            EndOffsets(bootstrap, [anon, s.topic("dlq", STRUCTURED)]),
            len(wifi.values),
        ),
    )
    run.record(
        "anonymize_free_text",
        await run.worker_drain(
            f"raw -> anon, {FREE_TEXT}",
            "anonymize",
            FREE_TEXT,
            EndOffsets(bootstrap, [s.topic("anon", FREE_TEXT), s.topic("dlq", FREE_TEXT)]),
            len(texts.values),
        ),
    )
    windowed = WindowedEvents(bootstrap, s.topic("audit"), STRUCTURED)
    figures = await run.worker_drain(
        f"anon -> open (k = 5), {STRUCTURED}", "publish", STRUCTURED, windowed, len(wifi.values)
    )
    total = max(windowed.events, 1)
    run.record(
        "publish_structured",
        figures
        | {
            "windows": windowed.windows,
            "rows": windowed.rows,
            "suppressed_share": windowed.suppressed / total,
            "parquet_files": len(list((run.work / "public").rglob("*.parquet"))),
        },
    )
    stages = run.results["stages"]

    def median(key: str) -> float:
        return float(stages[key]["events_per_s"]["median"])

    run.results["ratios"] = {
        "faust_over_aiokafka_consume": median("faust_passthrough") / median("aiokafka_consume"),
        "anonymize_over_faust": median("anonymize_structured") / median("faust_passthrough"),
        "anonymize_over_faust_grouped": (
            median("anonymize_structured") / median("faust_passthrough_grouped")
        ),
    }


async def probes(run: Run) -> None:
    from perf.probes import latency_probe, window_close_probe

    rate = run.results["stages"]["anonymize_structured"]["events_per_s"]["median"] / 2
    settings = run.settings.model_copy(
        update={
            "topic_prefix": "probe.",
            "app_id": "probe",
            "sink_url": str(run.work / "probe-public"),
            "idle_close_s": 300.0,
        }
    )
    await prepare_topics(settings, load_policies(settings.policy_dir))
    run.console.print("[bold]5. probes[/]: window close -> visible Parquet")
    worker = spawn_worker(settings, run.work / "worker-probe.log", KEYS_ENV, [STRUCTURED])
    try:
        run.results["window_close"] = await window_close_probe(
            run.bootstrap, settings, run.work / "probe-public", run.args.seed
        )
    finally:
        stop_worker(worker)
    run.console.print(f"[bold]   latency[/] produce -> anon at {rate:,.0f} events/s (open loop)")
    latency_settings = settings.model_copy(update={"stage": "anonymize"})
    worker = spawn_worker(latency_settings, run.work / "worker-latency.log", KEYS_ENV, [STRUCTURED])
    try:
        run.results["latency"] = await latency_probe(
            run.bootstrap, latency_settings, rate, run.args.latency_seconds, run.args.seed
        )
    finally:
        stop_worker(worker)


def print_table(run: Run) -> None:
    stages = run.results["stages"]
    table = Table(title="citysieve against its ceilings (median of segments; min-max)")
    for column in ("stage", "events/s", "min-max", "CPU s / 1k", "peak RSS MB", "RSS growth MB"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for figures in stages.values():
        rate, cpu = figures["events_per_s"], figures["cpu_s_per_1k_events"]
        table.add_row(
            figures["name"],
            f"{rate['median']:,.0f}",
            f"{rate['min']:,.0f}-{rate['max']:,.0f}",
            f"{cpu['median']:.3f}",
            f"{figures.get('peak_rss_mb', 0):,.0f}",
            f"{figures.get('memory_growth_mb_after_warmup', 0):+.0f}",
        )
    run.console.print(table)
    for name, ratio in run.results["ratios"].items():
        run.console.print(f"{name}: {ratio:.2f}")
    latency = run.results.get("latency", {}).get("latency_s")
    if latency:
        run.console.print(
            f"latency produce -> anon at {run.results['latency']['achieved_rate']:,.0f} "
            f"events/s: p50 {latency['p50']:.3f} s, p99 {latency['p99']:.3f} s, "
            f"max {latency['max']:.3f} s, lost {run.results['latency']['lost']}"
        )
    delay = run.results.get("window_close", {}).get("delay_s")
    if delay:
        run.console.print(
            f"window close -> visible Parquet: min {delay['min']:.2f} s, "
            f"median {delay['median']:.2f} s, max {delay['max']:.2f} s"
        )


def machine() -> dict[str, Any]:
    cpu_model = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--ceiling-events", type=int, default=300_000)
    parser.add_argument("--free-text-events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="aiokafka consume repeats")
    parser.add_argument("--segments", type=int, default=5, help="segments per drain")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--no-probes", action="store_true")
    parser.add_argument("--sweeps", action="store_true", help="window aggregation sweeps")
    parser.add_argument("--out", type=Path, default=ROOT / "perf" / "results")
    args = parser.parse_args()
    began = time.monotonic()
    console = Console()
    wifi = generate(STRUCTURED, args.events, args.seed, console)
    texts = generate(FREE_TEXT, args.free_text_events, args.seed, console)
    work = Path(tempfile.mkdtemp(prefix="citysieve-perf-"))  # kept: every stage's log
    console.print(f"work dir {work}")
    with test_broker(work / "kafka") as broker:
        run = Run(args, broker.bootstrap, work)
        run.results |= {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": {"kafka": broker.version} | {p: version(p) for p in PACKAGES},
            "args": {k: str(v) for k, v in vars(args).items()},
        }
        asyncio.run(throughput(run, wifi, texts))
        if not args.no_probes:
            asyncio.run(probes(run))
    if args.sweeps:
        from perf.bench_windows import run_sweeps

        console.print("[bold]6. window aggregation sweeps[/]")
        run.results["sweeps"] = run_sweeps(seed=args.seed)
    run.results["wall_s"] = round(time.monotonic() - began, 1)
    print_table(run)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"perf-{datetime.now(UTC):%Y-%m-%d}.json"
    path.write_text(json.dumps(run.results, indent=2))
    console.print(f"wrote {path} after {run.results['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
