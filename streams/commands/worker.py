"""``citysieve worker``: the Faust worker, for deployments (Kubernetes, docker-compose)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from citysieve.errors import ConfigurationError
from citysieve.settings import Settings
from streams.runtime import Pipeline, prepare_topics

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the stream worker (raw -> anon -> open) against KAFKA_BOOTSTRAP_SERVERS",
        description=(
            "Creates or corrects the pipeline's topics from the policies, then runs the Faust "
            "worker until stopped (SIGTERM/SIGINT). Settings come from CITYSIEVE_* variables "
            "and $CITYSIEVE_SETTINGS_FILE; keys from CITYSIEVE_PSEUDONYM_KEY(_FILE) and "
            "CITYSIEVE_ENCRYPTION_KEY(_FILE)."
        ),
    )
    parser.add_argument(
        "--dataset",
        action="append",
        default=None,
        help="only these datasets (repeatable; default: every policy)",
    )
    parser.add_argument(
        "--stage",
        choices=["all", "anonymize", "publish"],
        default=None,
        help=(
            "run only raw -> anon (anonymize) or only anon -> open -> sink (publish), each "
            "scaled on its own; default $CITYSIEVE_STAGE, else all"
        ),
    )
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning"])
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    settings = Settings(stage=args.stage) if args.stage else Settings()
    if not settings.bootstrap_servers:
        raise ConfigurationError(
            "No Kafka to work on: set KAFKA_BOOTSTRAP_SERVERS (or run `citysieve kafka up` "
            "and export what it prints). `citysieve demo` starts a local broker by itself."
        )
    pipeline = Pipeline.from_settings(settings, datasets=args.dataset)
    log.info("settings: %s", settings.redacted())
    asyncio.run(prepare_topics(settings, pipeline.policies, pipeline.clock))
    pipeline.run_worker(loglevel=args.loglevel)
    return 0
