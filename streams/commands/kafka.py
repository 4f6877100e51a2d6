"""``citysieve kafka up|down|status|fetch``: the local single-node broker."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from connectors.local_broker import KafkaRuntime, LocalBroker, metadata_answers


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "kafka",
        help="run a local Apache Kafka broker (KRaft, one node) from Maven Central's jars",
        description=(
            "Manage the local broker. The Kafka version is CITYSIEVE_KAFKA_VERSION "
            "(default in DEVELOPERS.md); jars are cached under the user's cache dir."
        ),
    )
    parser.add_argument("--state-dir", type=Path, default=None, help="broker data, config and logs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the broker and print its bootstrap address")
    up.add_argument("--port", type=int, default=None, help="client port (default: a free one)")
    up.set_defaults(handler=_up)
    actions.add_parser("down", help="stop the broker").set_defaults(handler=_down)
    actions.add_parser("status", help="say whether it runs and where").set_defaults(handler=_status)
    actions.add_parser("fetch", help="fetch and cache the Kafka jars only").set_defaults(
        handler=_fetch
    )


def _broker(args: argparse.Namespace) -> LocalBroker:
    return LocalBroker(args.state_dir)


def _up(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    broker = _broker(args)
    already = broker.record()
    began = time.monotonic()
    rec = broker.start(port=args.port, progress=lambda msg: err.print(f"[dim]{msg}[/]"))
    if already is None:
        err.print(
            f"Kafka {rec.version} is up in {time.monotonic() - began:.1f} s "
            f"(pid {rec.pid}, state {broker.state})"
        )
    else:
        err.print(f"Kafka {rec.version} was already running (pid {rec.pid})")
    # The bootstrap address alone on stdout, so scripts can capture it.
    print(rec.bootstrap)
    return 0


def _down(args: argparse.Namespace) -> int:
    broker = _broker(args)
    stopped = broker.stop()
    Console(stderr=True).print("Kafka stopped" if stopped else "Kafka was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    broker = _broker(args)
    rec = broker.record()
    out = Console()
    if rec is None:
        out.print(f"not running (state {broker.state})")
        return 3
    answers = metadata_answers(rec.bootstrap)
    health = "answering" if answers else "NOT answering metadata requests"
    out.print(
        f"running: Kafka {rec.version}, pid {rec.pid}, bootstrap {rec.bootstrap}, {health}, "
        f"up {time.time() - rec.started_at:.0f} s, state {broker.state}"
    )
    return 0 if answers else 1


def _fetch(args: argparse.Namespace) -> int:
    runtime = KafkaRuntime()
    cached = runtime.ready
    libs = runtime.ensure()
    jars = len(list(libs.glob("*.jar")))
    verb = "cached" if cached else "fetched"
    Console(stderr=True).print(f"Kafka {runtime.version}: {jars} jars {verb} in {libs}")
    return 0
