"""``citysieve simulate``: realistic synthetic events to a JSON-lines file or to Kafka.

Generation lives in `connectors.simulator`; this module only picks the
destination, shows progress and prints a summary. It never prints event
contents or identifiers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aiokafka.errors import KafkaError
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citysieve.clock import SystemClock
from citysieve.errors import BrokerError, ConfigurationError
from connectors.kafka_io import Producer, TopicSpec, create_topics
from connectors.simulator import DATASETS, DEFECTS, SimEvent, Simulator

# A progress bar from this many events on; smaller runs print the summary only.
PROGRESS_FROM = 2_000
# Events handed to the producer at a time.
KAFKA_BATCH = 5_000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="produce realistic synthetic events for any dataset to Kafka or to a file",
        description=(
            "Generate synthetic smart-city events (New York), deterministic from the seed, in "
            "the JSON reference form, including PII and, with --malformed, broken events for "
            "the dead-letter path. Writes to a JSON-lines file with --out, else produces to "
            "Kafka topic {prefix}iot.raw.<dataset>."
        ),
    )
    parser.add_argument("--dataset", required=True, choices=[*DATASETS, "all"])
    parser.add_argument(
        "--count", required=True, type=_positive_int, help="number of events per dataset"
    )
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=5.0,
        help="mean events per second of simulated time, per dataset; the hour of day "
        "shapes it (default: 5)",
    )
    parser.add_argument("--seed", type=int, default=7, help="same seed, same events (default: 7)")
    parser.add_argument(
        "--malformed",
        type=_share,
        default=0.0,
        help="share of malformed events, 0 to 1 (default: 0)",
    )
    parser.add_argument(
        "--population",
        type=_positive_int,
        default=500,
        help="devices, vehicles, riders, meters and residents that recur (default: 500)",
    )
    parser.add_argument(
        "--start",
        type=_utc_time,
        default=None,
        help="simulated start time, ISO-8601 with Z or an offset (default: now)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out",
        metavar="FILE",
        help="write JSON lines to FILE ('-' for stdout); for several datasets give a "
        "directory (one <dataset>.jsonl each) or a path containing {dataset}",
    )
    where.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument(
        "--topic-prefix",
        default="",
        help="with Kafka: topic names are {prefix}iot.raw.<dataset> (default: none)",
    )
    parser.set_defaults(handler=_run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _utc_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 time: {text!r} (e.g. 2024-05-14T08:00:00Z)"
        ) from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no timezone: add Z (UTC) or an offset such as +00:00"
        )
    return value.astimezone(UTC)


@dataclass
class Tally:
    """What was written or sent, per dataset: counts and kinds, never contents."""

    events: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None

    def add(self, event: SimEvent) -> None:
        self.events += 1
        if event.defect is not None:
            self.defects[event.defect] += 1
        if self.first is None:
            self.first = event.event_time
        self.last = event.event_time


def _run(args: argparse.Namespace) -> int:
    datasets: tuple[str, ...] = DATASETS if args.dataset == "all" else (args.dataset,)
    bootstrap = None
    if args.out is None:
        bootstrap = args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            raise ConfigurationError(
                "no Kafka to produce to: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap "
                "HOST:PORT (`citysieve kafka up` starts a local broker and prints its "
                "address), or write to a file with --out FILE"
            )
    start = args.start or SystemClock().now().replace(microsecond=0)
    simulators = [
        Simulator(
            d,
            seed=args.seed,
            start=start,
            rate_per_s=args.rate,
            population=args.population,
            malformed=args.malformed,
        )
        for d in datasets
    ]
    # One stream in event-time order, so several datasets advance together.
    stream = heapq.merge(*(s.events(args.count) for s in simulators), key=lambda e: e.event_time)
    err = Console(stderr=True)
    total = args.count * len(datasets)
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=total < PROGRESS_FROM,
    ) as progress:
        task = progress.add_task("events", total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)

        if bootstrap is None:
            tallies, where = _to_files(args.out, datasets, stream, advance)
        else:
            tallies = to_kafka(bootstrap, args.topic_prefix, datasets, stream, advance)
            where = f"produced to Kafka at {bootstrap}, topics {args.topic_prefix}iot.raw.<dataset>"
    err.print(summary_table(tallies, where))
    return 0


def _line(value: bytes) -> bytes:
    """One event per line: newlines in the raw bytes (only a broken event has them) escaped."""
    return value.replace(b"\r", b"\\r").replace(b"\n", b"\\n") + b"\n"


def _paths(out: str, datasets: tuple[str, ...]) -> dict[str, Path | None]:
    """Where each dataset goes; None is stdout."""
    if out == "-":
        if len(datasets) > 1:
            raise ConfigurationError(
                "--out - would mix several datasets in one stream: give a directory or a "
                "path containing {dataset}"
            )
        return {datasets[0]: None}
    if "{dataset}" in out:
        return {d: Path(out.replace("{dataset}", d)) for d in datasets}
    path = Path(out)
    if len(datasets) > 1 or path.is_dir():
        return {d: path / f"{d}.jsonl" for d in datasets}
    return {datasets[0]: path}


def _to_files(
    out: str, datasets: tuple[str, ...], stream: Iterable[SimEvent], advance: Callable[[int], None]
) -> tuple[dict[str, Tally], str]:
    paths = _paths(out, datasets)
    tallies = {d: Tally() for d in paths}
    with contextlib.ExitStack() as stack:
        sinks: dict[str, IO[bytes]] = {}
        for dataset, path in paths.items():
            if path is None:
                sinks[dataset] = sys.stdout.buffer
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            sinks[dataset] = stack.enter_context(path.open("wb"))
        for event in stream:
            sinks[event.dataset].write(_line(event.value))
            tallies[event.dataset].add(event)
            advance(1)
        for sink in sinks.values():
            sink.flush()
    dataset, path = next(iter(paths.items()))
    shown = "stdout" if path is None else str(path)
    if len(paths) > 1:
        shown = shown.replace(dataset, "<dataset>")
    return tallies, f"written to {shown}"


def _batches(stream: Iterable[SimEvent], size: int) -> Iterator[list[SimEvent]]:
    batch: list[SimEvent] = []
    for event in stream:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def to_kafka(
    bootstrap: str,
    prefix: str,
    datasets: tuple[str, ...],
    stream: Iterable[SimEvent],
    advance: Callable[[int], None],
) -> dict[str, Tally]:
    topics = {d: f"{prefix}iot.raw.{d}" for d in datasets}
    tallies = {d: Tally() for d in datasets}

    async def send() -> None:
        # Missing topics are created with broker defaults; the pipeline sets their
        # retention from the policy when it starts (drift is corrected there).
        await create_topics(bootstrap, [TopicSpec(t) for t in topics.values()])
        async with Producer(bootstrap) as producer:
            for batch in _batches(stream, KAFKA_BATCH):
                await producer.send_batch([(topics[e.dataset], e.key, e.value) for e in batch])
                for event in batch:
                    tallies[event.dataset].add(event)
                advance(len(batch))

    try:
        asyncio.run(send())
    except (KafkaError, OSError) as exc:
        sent = sum(t.events for t in tallies.values())
        raise BrokerError(
            f"could not produce to Kafka at {bootstrap} ({exc}); "
            f"{sent} events were sent before. Check the address, or `citysieve kafka status`."
        ) from exc
    return tallies


def summary_table(tallies: dict[str, Tally], where: str) -> Group:
    """Events per dataset, malformed events per kind, and where they went."""
    per_dataset = Table(
        title="simulated events", title_justify="left", caption=where, caption_justify="left"
    )
    per_dataset.add_column("dataset")
    per_dataset.add_column("events", justify="right")
    per_dataset.add_column("malformed", justify="right")
    per_dataset.add_column("simulated time (UTC)")
    for dataset, t in tallies.items():
        span = ""
        if t.first is not None and t.last is not None:
            span = f"{t.first:%m-%d %H:%M:%S} to {t.last:%m-%d %H:%M:%S}"
        per_dataset.add_row(dataset, str(t.events), str(sum(t.defects.values())), span)
    kinds = Counter[str]()
    for t in tallies.values():
        kinds.update(t.defects)
    if not kinds:
        return Group(per_dataset)
    per_kind = Table(title="malformed events by kind", title_justify="left")
    per_kind.add_column("defect")
    per_kind.add_column("events", justify="right")
    for kind in DEFECTS:
        if kinds[kind]:
            per_kind.add_row(kind, str(kinds[kind]))
    return Group(per_dataset, per_kind)
