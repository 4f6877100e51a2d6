"""``citysieve anonymize``: the stream's transforms on a file, for backfills and publishers."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from citysieve.keys import PSEUDONYM_KEY_VAR, KeyRing
from citysieve.policy.loader import load_policy
from connectors.sources import detect_format, input_size
from streams.backfill import Backfill, BackfillReport


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "anonymize",
        help="anonymize a file (JSON lines, Avro or Parquet) into anon and public Parquet",
        description=(
            "Runs the stream's transforms on a file: writes per-event anonymized records under "
            "OUT/anon/<dataset>/ and k-anonymous aggregates under OUT/public/<dataset>/ (the "
            "public sink layout, with datapackage.json), and rejected input with its reason to "
            "OUT/dlq/<dataset>.jsonl. Pseudonyms use CITYSIEVE_PSEUDONYM_KEY(_FILE); without it "
            "a random key is used for this run only."
        ),
    )
    parser.add_argument("--dataset", required=True, help="dataset name (a policy)")
    parser.add_argument("--input", required=True, type=Path, help="events file")
    parser.add_argument("--out", required=True, help="output directory (or fsspec URL)")
    parser.add_argument("--format", choices=["jsonl", "avro", "parquet"], default=None)
    parser.add_argument("--policies", type=Path, default=None, help="policy directory")
    parser.add_argument(
        "--no-rollup", action="store_true", help="suppress groups below k instead of rolling up"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    policy = load_policy(args.dataset, args.policies)
    fmt = detect_format(args.input, args.format)
    keys = KeyRing.from_env()
    if keys.pseudonym is None and not os.environ.get(f"{PSEUDONYM_KEY_VAR}_FILE"):
        err.print(
            f"[yellow]no {PSEUDONYM_KEY_VAR}: using a random key for this run; its pseudonyms "
            "cannot be linked to any other run's[/]"
        )
        keys = KeyRing.for_demo()
    backfill = Backfill(policy, args.out, keys=keys, rollup=not args.no_rollup)
    total = input_size(args.input, fmt)
    with Progress(
        TextColumn(f"anonymizing {args.input.name}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("input", total=total)
        report = backfill.run(
            args.input, fmt, progress=lambda done: progress.update(task, completed=done)
        )
    Console().print(summary(args.dataset, report, args.out))
    return 0


def summary(dataset: str, report: BackfillReport, out: str) -> Group:
    table = Table(title=f"citysieve anonymize: {dataset}", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    published = report.events_published
    accounted = published + report.events_suppressed + report.events_late
    rows = [
        ("events in", report.events_in),
        ("rejected (see dlq/)", sum(report.rejected.values())),
        ("anon records", report.anon_records),
        ("windows closed", report.windows),
        ("public rows", report.rows_published),
        ("events published in rows", published),
        ("events suppressed (group below k)", report.events_suppressed),
        ("events late", report.events_late),
        ("files written", len(report.files)),
    ]
    for what, count in rows:
        table.add_row(what, f"{count:,}")
    share = f"{published / accounted:.1%}" if accounted else "n/a"
    pii = ", ".join(f"{kind} {n:,}" for kind, n in report.pii_found.most_common()) or "none"
    reasons = ", ".join(f"{r} {n}" for r, n in report.rejected.most_common()) or "none"
    return Group(
        table,
        f"published share of aggregated events: {share}",
        f"PII found and anonymized: {pii}",
        f"rejected by reason: {reasons}",
        f"output: {out}/anon/{dataset}/ and {out}/public/{dataset}/",
    )
