"""``citysieve notice``: the public transparency notice, from the policy files."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from citysieve.notice import render_html, render_markdown
from citysieve.policy import load_policies

DEFAULT_OUT = Path("out/notice")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "notice",
        help="render the public transparency notice (Markdown and HTML) from the policies",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--policies", type=Path, default=None, help="policy file or directory (default: shipped)"
    )
    parser.set_defaults(handler=_notice)


def _write(path: Path, text: str) -> None:
    """Write then rename, so a reader never sees half a notice."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _notice(args: argparse.Namespace) -> int:
    policies = load_policies(args.policies)
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("notice.md", render_markdown(policies)),
        ("notice.html", render_html(policies)),
    ):
        target = args.out / name
        _write(target, text)
        written.append(target)
    console = Console(highlight=False)
    console.print(
        f"transparency notice for {len(policies)} dataset(s): "
        + ", ".join(str(path) for path in written),
        soft_wrap=True,
    )
    return 0
