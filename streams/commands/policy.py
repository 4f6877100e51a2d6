"""``citysieve policy check [PATH]`` and ``citysieve policy schema DATASET``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from citysieve.policy import (
    DatasetPolicy,
    Tier,
    check_policies,
    default_policy_dir,
    load_policy,
    tier_schemas,
)
from citysieve.policy.durations import format_duration, humanize_duration
from transforms.classify import schema_record_class


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="validate and summarise the dataset policies",
        description="Policies and schemas are the single source of truth (docs/policies.md).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate policies and schemas; exit 1 and say what to change on a mistake",
    )
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        help=f"a policy file or a directory of them (default: {default_policy_dir()})",
    )
    check.set_defaults(handler=_check)
    schema = actions.add_parser(
        "schema", help="print a dataset's derived Avro schema (raw, anon or open tier)"
    )
    schema.add_argument("dataset")
    schema.add_argument("--tier", choices=("raw", "anon", "open"), default="open")
    schema.add_argument("--policies", type=Path, default=None, help="policy file or directory")
    schema.set_defaults(handler=_schema)


def _check(args: argparse.Namespace) -> int:
    out = Console(highlight=False)
    result = check_policies(args.path)
    for policy in result.policies.values():
        _summarise(out, policy)
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {escape(str(warning))}", soft_wrap=True)
    for error in result.errors:
        out.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
    if result.errors:
        out.print(
            f"[bold red]{len(result.errors)} problem(s)[/] in {len(result.files)} policy "
            "file(s); nothing was loaded from the files above",
            soft_wrap=True,
        )
        return 1
    out.print(f"[green]{len(result.policies)} dataset(s) OK[/]", soft_wrap=True)
    return 0


def _summarise(out: Console, policy: DatasetPolicy) -> None:
    out.rule(f"[bold]{escape(policy.dataset)}[/]: {escape(policy.title)}")
    out.print(
        f"{escape(str(policy.policy_path))} with schema {escape(str(policy.schema_path))}",
        soft_wrap=True,
    )
    fields = Table()
    for header in ("field", "class", "role", "PII", "anon operator", "anon class"):
        fields.add_column(header, no_wrap=header in ("field", "class"))
    for treatment in policy.treatments:
        source = treatment.field
        operator = (
            f"location '{treatment.location}'"
            if treatment.location is not None
            else treatment.spec.label
            if treatment.spec is not None
            else "-"
        )
        fields.add_row(
            source.name,
            source.classification.value,
            source.role.value,
            source.pii_type or "",
            operator,
            "-" if treatment.removed else treatment.classification_after.value,
        )
    out.print(fields)
    out.print(_overview(policy))


def _overview(policy: DatasetPolicy) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2))
    open_tier = policy.open
    h3 = open_tier.h3
    schemas = tier_schemas(policy)
    classes = {
        tier: schema_record_class(avro)
        for tier, avro in (
            ("raw", schemas.raw_avro),
            ("anon", schemas.anon_avro),
            ("open", schemas.open_avro),
        )
    }
    rows = {
        "subject": ", ".join(policy.subject) or "none (no personal data)",
        "k": str(open_tier.k) if open_tier.k is not None else "- (no subject)",
        "window": f"{format_duration(open_tier.window.size)}, lateness "
        f"{format_duration(open_tier.window.allowed_lateness)}",
        "h3": f"finest {h3.finest}, coarsest {h3.coarsest}; anon "
        + ", ".join(f"{loc.name}={loc.resolution}" for loc in policy.locations)
        if h3 is not None
        else "-",
        "dimensions": "; ".join(
            f"{name}: " + " > ".join(level.kind for level in dim.levels)
            for name, dim in open_tier.dimensions.items()
        )
        or "-",
        "measures": "; ".join(
            f"{name}: {', '.join(aggs)}" for name, aggs in open_tier.measures.items()
        )
        or "-",
        "retention": ", ".join(
            f"{tier.value} {humanize_duration(policy.retention.duration(tier))}" for tier in Tier
        ),
        "pseudonym epoch": format_duration(policy.pseudonym_epoch)
        if policy.pseudonym_epoch
        else "-",
        "record class": "; ".join(
            f"{tier} {rc.classification.value} ({rc.reason})" for tier, rc in classes.items()
        ),
        "partitions": str(policy.topics.partitions),
    }
    for key, value in rows.items():
        table.add_row(f"[bold]{key}[/]", escape(value))
    return table


def _schema(args: argparse.Namespace) -> int:
    policy = load_policy(args.dataset, args.policies)
    schemas = tier_schemas(policy)
    avro = {"raw": schemas.raw_avro, "anon": schemas.anon_avro, "open": schemas.open_avro}
    print(json.dumps(avro[args.tier], indent=2, ensure_ascii=False))
    return 0
