"""``citysieve demo``: the whole pipeline on simulated data, start to summary, in one command.

With no Kafka configured it starts a local broker (fresh state, so the counts are
this run's), creates the topics from the policies, starts a worker process,
produces simulated events for every dataset (with some malformed ones), shows
progress until every event is on its anon topic or the DLQ, then prints what
happened and stops what it started. Keys are random per run and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import heapq
import json
import os
import shutil
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from citysieve.clock import SystemClock
from citysieve.errors import CitysieveError
from citysieve.paths import state_dir
from citysieve.policy.loader import load_policies
from citysieve.settings import Settings
from connectors.audit import OpenTierCounts, summarize_audit
from connectors.kafka_io import read_topic, topic_counts
from connectors.local_broker import LocalBroker
from connectors.simulator import Simulator
from streams.commands.simulate import Tally, summary_table, to_kafka
from streams.runtime import prepare_topics, spawn_worker, stop_worker
from transforms.pipeline import HEADER_REASON


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the pipeline on simulated data against a local Kafka and print a summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--count", type=int, default=1500, help="events per dataset (1500)")
    parser.add_argument("--malformed", type=float, default=0.03, help="share malformed (0.03)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="demo output dir")
    parser.add_argument(
        "--timeout", type=float, default=150.0, help="seconds to wait for the pipeline"
    )
    parser.set_defaults(handler=_run)


@dataclass
class DemoReport:
    produced: dict[str, Tally]
    anon: dict[str, int]
    dlq: dict[str, int]
    dlq_reasons: Counter[str] = field(default_factory=Counter)
    pii_found: Counter[str] = field(default_factory=Counter)
    undeclared: list[str] = field(default_factory=list)
    open_tier: dict[str, OpenTierCounts] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events_in": {d: t.events for d, t in self.produced.items()},
            "malformed_sent": {d: sum(t.defects.values()) for d, t in self.produced.items()},
            "anon_records": self.anon,
            "dlq_records": self.dlq,
            "dlq_reasons": dict(self.dlq_reasons),
            "pii_found": dict(self.pii_found),
            "undeclared_fields": self.undeclared,
            "open_tier": {d: vars(o) for d, o in self.open_tier.items()},
            "seconds": round(self.seconds, 1),
        }


def _run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    began = time.monotonic()
    base = Settings()
    args.out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if base.bootstrap_servers:
            bootstrap = base.bootstrap_servers
            prefix = f"demo-{uuid.uuid4().hex[:8]}."  # never mix with a cluster's real topics
            err.print(f"using the Kafka cluster at {bootstrap}, topics {prefix}iot.*")
        else:
            broker = LocalBroker(state_dir() / "demo-kafka")
            broker.stop()
            shutil.rmtree(broker.state, ignore_errors=True)  # a clean broker: this run's counts
            rec = broker.start(progress=lambda msg: err.print(f"[dim]{msg}[/]"))
            stack.callback(broker.stop)
            bootstrap, prefix = rec.bootstrap, ""
            err.print(f"local Kafka {rec.version} up at {bootstrap}")
        settings = base.model_copy(
            update={
                "bootstrap_servers": bootstrap,
                "topic_prefix": prefix,
                "sink_url": str(args.out / "public"),
                "state_dir": args.out / "worker-state",
                "app_id": f"citysieve-demo-{uuid.uuid4().hex[:8]}",
                # The simulated stream stops: close its last windows soon after.
                "idle_close_s": 3.0,
            }
        )
        policies = load_policies(settings.policy_dir)
        datasets = tuple(policies)
        asyncio.run(prepare_topics(settings, policies))
        err.print(f"topics ready for {len(datasets)} datasets")

        keys = {
            # Demo-only keys: random for this run, handed to the worker, never shown.
            "CITYSIEVE_PSEUDONYM_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CITYSIEVE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        worker = spawn_worker(settings, args.out / "worker.log", keys)
        stack.callback(stop_worker, worker)

        start = SystemClock().now().replace(microsecond=0)
        simulators = [
            Simulator(d, seed=args.seed, start=start, malformed=args.malformed) for d in datasets
        ]
        stream = heapq.merge(
            *(s.events(args.count) for s in simulators), key=lambda e: e.event_time
        )
        produced = to_kafka(bootstrap, prefix, datasets, stream, lambda _n: None)
        err.print(summary_table(produced, f"produced to {prefix}iot.raw.<dataset>"))

        anon, dlq = _wait_for_pipeline(settings, produced, worker, args, err)
        report = DemoReport(produced, anon, dlq)
        _wait_for_open_tier(settings, report, worker, args, err)
        asyncio.run(_read_dead_letters(settings, datasets, report))
        report.seconds = time.monotonic() - began
    (args.out / "summary.json").write_text(json.dumps(report.as_dict(), indent=2))
    Console().print(_summary(report, args.out))
    complete = all(anon[d] + dlq[d] == produced[d].events for d in datasets)
    return 0 if complete else 1


def _wait_for_pipeline(
    settings: Settings,
    produced: dict[str, Tally],
    worker: subprocess.Popen[bytes],
    args: argparse.Namespace,
    err: Console,
) -> tuple[dict[str, int], dict[str, int]]:
    """Poll topic offsets with a live table until every event is accounted for."""
    bootstrap = settings.bootstrap_servers or ""
    datasets = list(produced)
    anon_topics = {d: settings.topic("anon", d) for d in datasets}
    dlq_topics = {d: settings.topic("dlq", d) for d in datasets}
    deadline = time.monotonic() + args.timeout
    anon: dict[str, int] = dict.fromkeys(datasets, 0)
    dlq: dict[str, int] = dict.fromkeys(datasets, 0)
    with Live(console=err, refresh_per_second=4) as live:
        while True:
            counts = asyncio.run(
                topic_counts(bootstrap, [*anon_topics.values(), *dlq_topics.values()])
            )
            anon = {d: counts[anon_topics[d]] for d in datasets}
            dlq = {d: counts[dlq_topics[d]] for d in datasets}
            live.update(_progress_table(produced, anon, dlq))
            if all(anon[d] + dlq[d] >= produced[d].events for d in datasets):
                return anon, dlq
            if worker.poll() is not None:
                raise CitysieveError(
                    f"the worker exited with code {worker.returncode}; "
                    f"see {args.out / 'worker.log'}"
                )
            if time.monotonic() > deadline:
                err.print(f"[yellow]stopped waiting after {args.timeout:.0f} s[/]")
                return anon, dlq
            time.sleep(0.5)


def _progress_table(produced: dict[str, Tally], anon: dict[str, int], dlq: dict[str, int]) -> Table:
    table = Table(title="pipeline progress", title_justify="left")
    for column in ("dataset", "events in", "anon", "dlq", "done"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for d, tally in produced.items():
        done = anon[d] + dlq[d]
        table.add_row(d, str(tally.events), str(anon[d]), str(dlq[d]), f"{done / tally.events:.0%}")
    return table


async def _read_dead_letters(
    settings: Settings, datasets: tuple[str, ...], report: DemoReport
) -> None:
    bootstrap = settings.bootstrap_servers or ""
    for dataset in datasets:
        for message in await read_topic(bootstrap, settings.topic("dlq", dataset), idle_s=0.5):
            reason = dict(message.headers).get(HEADER_REASON, b"unknown").decode()
            report.dlq_reasons[reason] += 1


def _wait_for_open_tier(
    settings: Settings,
    report: DemoReport,
    worker: subprocess.Popen[bytes],
    args: argparse.Namespace,
    err: Console,
) -> None:
    """Wait until every anon record is in a closed window and every window's file is written.

    Exact accounting from the audit stream: per dataset, the events of closed windows
    (published + suppressed + late) plus late events reported afterwards equal the anon
    records; and there is one export per window that published rows.
    """
    deadline = time.monotonic() + args.timeout
    with err.status("closing windows and writing Parquet files"):
        while True:
            audit = asyncio.run(
                summarize_audit(settings.bootstrap_servers or "", settings.topic("audit"))
            )
            report.pii_found, report.undeclared = audit.pii_found, audit.undeclared
            open_tier = {d: audit.open_tier.get(d, OpenTierCounts()) for d in report.anon}
            windowed = {d: o.windowed for d, o in open_tier.items()}
            done = all(
                windowed.get(d, 0) >= report.anon[d]
                and open_tier[d].exports >= open_tier[d].windows_with_rows
                for d in report.anon
            )
            if done or time.monotonic() > deadline or worker.poll() is not None:
                report.open_tier = open_tier
                return
            time.sleep(1.0)


def _summary(report: DemoReport, out: Path) -> Group:
    events = Table(title="citysieve demo: what happened", title_justify="left")
    for column in ("dataset", "events in", "malformed sent", "anon records", "dead letters"):
        events.add_column(column, justify="left" if column == "dataset" else "right")
    for d, tally in report.produced.items():
        events.add_row(
            d,
            str(tally.events),
            str(sum(tally.defects.values())),
            str(report.anon[d]),
            str(report.dlq[d]),
        )
    events.add_row(
        "[b]total[/]",
        str(sum(t.events for t in report.produced.values())),
        str(sum(sum(t.defects.values()) for t in report.produced.values())),
        str(sum(report.anon.values())),
        str(sum(report.dlq.values())),
    )
    reasons = Table(title="dead letters by reason (iot.dlq.*)", title_justify="left")
    reasons.add_column("reason")
    reasons.add_column("events", justify="right")
    for reason, n in report.dlq_reasons.most_common():
        reasons.add_row(reason, str(n))
    pii = Table(title="PII found and anonymized, by type", title_justify="left")
    pii.add_column("type")
    pii.add_column("values", justify="right")
    for kind, n in report.pii_found.most_common():
        pii.add_row(kind, str(n))
    public = Table(
        title="open tier: k-anonymous windows (iot.open.*, public sink)", title_justify="left"
    )
    for column in ("dataset", "windows", "rows", "published", "suppressed", "late", "files"):
        public.add_column(column, justify="left" if column == "dataset" else "right")
    for d, o in report.open_tier.items():
        public.add_row(
            d,
            str(o.windows),
            str(o.rows),
            str(o.published),
            str(o.suppressed),
            str(o.late),
            str(o.exports),
        )
    footer = (
        f"took {report.seconds:.0f} s; Parquet and datapackage.json in {out / 'public'}; "
        f"summary in {out / 'summary.json'}; worker log in {out / 'worker.log'}"
    )
    return Group(events, reasons, pii, public, footer)
