"""What a worker builds at start-up: policies, keys, per-dataset processors, topics.

Everything here runs once per process, before the first event.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from citysieve.clock import Clock, SystemClock
from citysieve.errors import ConfigurationError
from citysieve.keys import KeyRing
from citysieve.policy.classes import Tier
from citysieve.policy.derive import TierSchemas, tier_schemas
from citysieve.policy.loader import audit_retention_seconds, load_policies
from citysieve.policy.model import DatasetPolicy
from citysieve.settings import Settings
from connectors.audit import audit_event, encode_audit
from connectors.avro_wire import AvroDecoder, AvroEncoder
from connectors.kafka_io import TopicSpec, send_all
from connectors.schema_registry import SchemaRegistry
from connectors.topics import ensure_topics
from transforms.pii.engine import shared_engine
from transforms.pii.entities import DEFAULT_FREE_TEXT_ENTITIES
from transforms.pipeline import Output, RawProcessor

log = logging.getLogger(__name__)

SCHEMAS_TOPIC_TIER = "schemas"


@dataclass(frozen=True)
class DatasetRuntime:
    policy: DatasetPolicy
    schemas: TierSchemas
    anon_encoder: AvroEncoder
    processor: RawProcessor


@dataclass(frozen=True)
class Pipeline:
    settings: Settings
    datasets: dict[str, DatasetRuntime]
    clock: Clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        datasets: Sequence[str] | None = None,
        keys: KeyRing | None = None,
        clock: Clock | None = None,
    ) -> Pipeline:
        policies = load_policies(settings.policy_dir)
        if datasets:
            unknown = sorted(set(datasets) - set(policies))
            if unknown:
                raise ConfigurationError(
                    f"no policy for {', '.join(unknown)}; known: {', '.join(sorted(policies))}"
                )
            policies = {name: policies[name] for name in datasets}
        keys = keys or KeyRing.from_env()
        clock = clock or SystemClock()
        scanner = shared_engine(frozenset(DEFAULT_FREE_TEXT_ENTITIES))
        registry = _registry(settings)
        runtimes = {}
        for name, policy in policies.items():
            schemas = tier_schemas(policy)
            registry_id = (
                registry.register(f"{settings.topic('anon', name)}-value", schemas.anon_avro)
                if registry is not None
                else None
            )
            encoder = AvroEncoder(schemas.anon_avro, registry_id=registry_id)
            processor = RawProcessor(
                policy,
                keys=keys,
                encode=encoder.encode,
                avro_input=AvroDecoder([schemas.raw_avro]),
                scanner=scanner,
                clock=clock,
                schemas=schemas,
            )
            runtimes[name] = DatasetRuntime(policy, schemas, encoder, processor)
        return cls(settings, runtimes, clock)

    @property
    def policies(self) -> dict[str, DatasetPolicy]:
        return {name: rt.policy for name, rt in self.datasets.items()}

    def run_worker(self, *, loglevel: str = "info") -> None:
        """Run the Faust worker in this process until it is stopped."""
        import faust

        from streams.app import create_app

        app = create_app(self.settings, self.datasets, self.clock)
        faust.Worker(app, loglevel=loglevel).execute_from_commandline()


def _registry(settings: Settings) -> SchemaRegistry | None:
    if not settings.schema_registry_url:
        return None
    auth = settings.schema_registry_auth
    return SchemaRegistry(
        settings.schema_registry_url, auth=auth.get_secret_value() if auth else None
    )


def topic_specs(settings: Settings, policies: Mapping[str, DatasetPolicy]) -> list[TopicSpec]:
    """Every topic the pipeline owns, with partitions and retention from the policies."""

    def spec(name: str, partitions: int, retention_s: int | None, cleanup: str) -> TopicSpec:
        config = {"cleanup.policy": cleanup}
        if retention_s is not None:
            config["retention.ms"] = str(retention_s * 1000)
        return TopicSpec(name, partitions, settings.replication_factor, config)

    specs = [
        spec(
            settings.topic(tier.value, name),
            p.topics.partitions,
            p.retention.seconds(tier),
            "delete",
        )
        for name, p in policies.items()
        for tier in (Tier.RAW, Tier.DLQ, Tier.ANON, Tier.OPEN)
    ]
    specs.append(
        spec(settings.topic("audit"), 1, audit_retention_seconds(dict(policies)), "delete")
    )
    specs.append(spec(settings.topic(SCHEMAS_TOPIC_TIER), 1, None, "compact"))
    specs.append(spec(settings.topic("marks"), 1, None, "compact"))
    return specs


def startup_audit(policies: Mapping[str, DatasetPolicy], clock: Clock) -> list[dict[str, Any]]:
    """One ``policy_loaded`` event per dataset: which files, by hash, and k."""
    now = clock.now()
    return [
        audit_event(
            "policy_loaded",
            now,
            dataset=name,
            policy_file=policy.policy_path.name,
            policy_sha256=hashlib.sha256(policy.policy_path.read_bytes()).hexdigest(),
            schema_sha256=hashlib.sha256(policy.schema_path.read_bytes()).hexdigest(),
            k=policy.k,
        )
        for name, policy in policies.items()
    ]


async def prepare_topics(
    settings: Settings, policies: Mapping[str, DatasetPolicy], clock: Clock | None = None
) -> None:
    """Create or correct the topics, publish schemas, and audit what start-up did."""
    clock = clock or SystemClock()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **settings.kafka_client_options()
    )
    await admin.start()
    try:
        created, changes = await ensure_topics(admin, topic_specs(settings, policies))
    finally:
        await admin.close()
    if created:
        log.info("created %d topics", len(created))
    now = clock.now()
    audit = startup_audit(policies, clock)
    audit += [{**c.as_audit(), "at": now.isoformat()} for c in changes]
    for change in changes:
        log.warning(
            "topic %s: %s was %s, set to %s (policy)",
            change.topic,
            change.config,
            change.was,
            change.now,
        )
    encoders = [AvroEncoder(tier_schemas(p).anon_avro) for p in policies.values()]
    schema_messages = [
        Output(e.fingerprint.hex().encode(), e.schema_json().encode()) for e in encoders
    ]
    assert settings.bootstrap_servers is not None  # noqa: S101 - checked by the caller
    await send_all(
        settings.bootstrap_servers,
        [(settings.topic("audit"), Output(*encode_audit(a))) for a in audit]
        + [(settings.topic(SCHEMAS_TOPIC_TIER), m) for m in schema_messages],
        **settings.kafka_client_options(),
    )


def spawn_worker(
    settings: Settings,
    log_path: Path,
    extra_env: Mapping[str, str] | None = None,
    datasets: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """``citysieve worker`` in a child process, configured from ``settings``
    (every dataset, or only ``datasets``)."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers or "",
        "CITYSIEVE_TOPIC_PREFIX": settings.topic_prefix,
        "CITYSIEVE_SINK_URL": settings.sink_url,
        "CITYSIEVE_APP_ID": settings.app_id,
        "CITYSIEVE_STAGE": settings.stage,
        "CITYSIEVE_POLICY_DIR": str(settings.policy_dir),
        "CITYSIEVE_BATCH_SIZE": str(settings.batch_size),
        "CITYSIEVE_BATCH_WITHIN_S": str(settings.batch_within_s),
        "CITYSIEVE_SESSION_TIMEOUT_S": str(settings.session_timeout_s),
        "CITYSIEVE_IDLE_CLOSE_S": str(settings.idle_close_s),
        **({"CITYSIEVE_STATE_DIR": str(settings.state_dir)} if settings.state_dir else {}),
        **(extra_env or {}),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [
                sys.executable,
                *("-m", "streams.cli", "worker", "--loglevel", "warning"),
                *(arg for name in datasets for arg in ("--dataset", name)),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop_worker(worker: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; always reaps the process."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            worker.kill()
    worker.wait()
