"""Pipeline throughput against its ceilings, in one run on one broker.

    .venv/bin/python perf/bench_pipeline.py [--events 200000] [--seed 7]

Pre-fills a raw topic with simulated wifi_presence events, then drains the same events
through: raw aiokafka (produce, consume: the transport ceiling), a Faust pass-through
worker (the framework ceiling), and the citysieve worker (raw -> anon). Reports events
per second, CPU seconds per thousand events and peak memory of each, and the ratios
pipeline / Faust and Faust / aiokafka. Results: perf/results/pipeline-<date>.json.
Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts the local broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citysieve.policy.loader import load_policies  # noqa: E402
from citysieve.settings import Settings  # noqa: E402
from connectors.kafka_io import Producer, TopicSpec, create_topics, topic_counts  # noqa: E402
from connectors.simulator import Simulator  # noqa: E402
from connectors.testing import test_broker  # noqa: E402
from streams.runtime import prepare_topics, spawn_worker  # noqa: E402

DATASET = "wifi_presence"
KEYS_ENV = {
    "CITYSIEVE_PSEUDONYM_KEY": "YmVuY2htYXJrLXBzZXVkb255bS1rZXktMzItYnl0ZXMtb2s=",
    "CITYSIEVE_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}


@dataclass
class Stage:
    name: str
    events: int
    seconds: float
    cpu_s: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu_s / self.events * 1000 if self.events else 0.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _prefill(
    bootstrap: str, topic: str, values: list[bytes], keys: list[bytes | None]
) -> Stage:
    began, cpu = time.monotonic(), _cpu()
    async with Producer(bootstrap) as producer:
        for i in range(0, len(values), 10_000):
            await producer.send_batch(
                [(topic, keys[j], values[j]) for j in range(i, min(i + 10_000, len(values)))]
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Stage("aiokafka produce", len(values), time.monotonic() - began, _cpu() - cpu, peak)


async def _consume(bootstrap: str, topic: str, expect: int) -> Stage:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{time.time_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    began, cpu, seen = time.monotonic(), _cpu(), 0
    try:
        while seen < expect:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(v) for v in batch.values())
    finally:
        await consumer.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Stage("aiokafka consume", seen, time.monotonic() - began, _cpu() - cpu, peak)


def _drain(
    name: str, proc: subprocess.Popen[bytes], bootstrap: str, out_topic: str, expect: int
) -> Stage:
    """Time from the first output to the last; CPU and peak memory of the whole process."""
    t0 = c0 = None
    deadline = time.monotonic() + 900
    while True:
        count = asyncio.run(topic_counts(bootstrap, [out_topic]))[out_topic]
        now = time.monotonic()
        if t0 is None and count > 0:
            t0, c0 = now, count
        if proc.poll() is not None:
            raise SystemExit(f"{name}: the process exited with {proc.returncode}; see its log")
        if count >= expect or now > deadline:
            break
        time.sleep(0.2)
    peak_kb = _peak_rss_kb(proc.pid)  # wait4's maxrss would count the pre-exec fork
    proc.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    seconds = (now - t0) if t0 is not None else 0.0
    drained = count - (c0 or 0)
    cpu = usage.ru_utime + usage.ru_stime
    # CPU per event includes start-up; events/s counts only the drain after the first output.
    return Stage(name, drained, seconds, cpu * drained / max(count, 1), peak_kb / 1024)


def _peak_rss_kb(pid: int) -> float:
    """The process's own high-water resident set (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "perf" / "results")
    args = parser.parse_args()
    console = Console()
    start = datetime(2026, 11, 20, tzinfo=UTC)
    events = list(Simulator(DATASET, seed=args.seed, start=start).events(args.events))
    values = [e.value for e in events]
    keys = [e.key for e in events]
    stages: list[Stage] = []
    tmp = tempfile.mkdtemp(prefix="citysieve-bench-")  # kept: logs of each stage are there
    console.print(f"work dir {tmp}")
    with test_broker(Path(tmp) / "kafka") as broker:
        bootstrap = broker.bootstrap
        settings = Settings(
            bootstrap_servers=bootstrap,
            topic_prefix="bench.",
            app_id="bench-citysieve",
            state_dir=Path(tmp) / "state",
            sink_url=str(Path(tmp) / "public"),
        )
        asyncio.run(prepare_topics(settings, load_policies(settings.policy_dir)))
        raw = settings.topic("raw", DATASET)
        console.print(f"pre-filling {raw} with {args.events:,} events")
        stages.append(asyncio.run(_prefill(bootstrap, raw, values, keys)))
        stages.append(asyncio.run(_consume(bootstrap, raw, args.events)))

        asyncio.run(create_topics(bootstrap, [TopicSpec("bench.pass", 6)]))
        env = {
            **os.environ,
            "BENCH_APP_ID": "bench-pass",
            "BENCH_BOOTSTRAP": bootstrap,
            "BENCH_IN": raw,
            "BENCH_OUT": "bench.pass",
            "PYTHONPATH": str(ROOT / "perf" / "apps"),
        }
        faust_cli = Path(sys.executable).with_name("faust")
        log = open(Path(tmp) / "pass.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [str(faust_cli), "-A", "passthrough", "--datadir", tmp, "worker", "-l", "warn"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        console.print("Faust pass-through draining")
        try:
            stages.append(_drain("Faust pass-through", proc, bootstrap, "bench.pass", args.events))
        finally:
            log.close()
            console.print((Path(tmp) / "pass.log").read_text(errors="replace")[-1500:])

        console.print("citysieve worker (raw -> anon) draining")
        worker = spawn_worker(settings, Path(tmp) / "worker.log", KEYS_ENV)
        stages.append(
            _drain(
                "citysieve raw -> anon",
                worker,
                bootstrap,
                settings.topic("anon", DATASET),
                args.events,
            )
        )

    by = {s.name: s for s in stages}
    faust_ratio = by["Faust pass-through"].rate / by["aiokafka consume"].rate
    pipeline_ratio = by["citysieve raw -> anon"].rate / by["Faust pass-through"].rate
    table = Table(title=f"pipeline vs ceilings: {args.events:,} wifi_presence events, one run")
    for column in ("stage", "events/s", "CPU s / 1k events", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for s in stages:
        table.add_row(s.name, f"{s.rate:,.0f}", f"{s.cpu_per_1k:.3f}", f"{s.peak_rss_mb:,.0f}")
    console.print(table)
    console.print(f"Faust pass-through / aiokafka consume: {faust_ratio:.2f}")
    console.print(f"citysieve raw -> anon / Faust pass-through: {pipeline_ratio:.2f}")
    result = {
        "date": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "kafka": broker.version,
        "events": args.events,
        "seed": args.seed,
        "stages": [
            asdict(s) | {"events_per_s": s.rate, "cpu_s_per_1k": s.cpu_per_1k} for s in stages
        ],
        "ratios": {"faust_over_aiokafka": faust_ratio, "pipeline_over_faust": pipeline_ratio},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"pipeline-{datetime.now(UTC):%Y-%m-%d}.json"
    path.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
