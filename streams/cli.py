"""The ``citysieve`` command line: one entry point, one module per sub-command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from citysieve import __version__
from citysieve.errors import CitysieveError

# Sub-command modules under streams.commands; each has register(subparsers).
COMMANDS: tuple[str, ...] = (
    "demo",
    "anonymize",
    "kafka",
    "policy",
    "notice",
    "simulate",
    "worker",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citysieve",
        description="Streaming privacy pipeline for smart-city IoT data.",
    )
    parser.add_argument("--version", action="version", version=f"citysieve {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug details (never event contents)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"streams.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("aiokafka", "faust", "mode", "presidio-analyzer"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    err = Console(stderr=True)
    try:
        code = args.handler(args)
    except CitysieveError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
