"""What a worker builds at start-up: policies, keys, per-dataset processors, topics.

Everything here runs once per process, before the first event.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

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
from connectors.topics import ensure_topics
from transforms.pii.engine import shared_engine
from transforms.pii.catalogue import DEFAULT_FREE_TEXT_ENTITIES
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
        runtimes = {}
        for name, policy in policies.items():
            schemas = tier_schemas(policy)
            encoder = AvroEncoder(schemas.anon_avro)
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

    def topic_specs(self) -> list[TopicSpec]:
        """Every topic the pipeline owns, with partitions and retention from the policies."""
        settings = self.settings
        specs = []
        for name, runtime in self.datasets.items():
            policy = runtime.policy
            for tier in (Tier.RAW, Tier.DLQ, Tier.ANON, Tier.OPEN):
                specs.append(
                    TopicSpec(
                        settings.topic(tier.value, name),
                        policy.topics.partitions,
                        settings.replication_factor,
                        {
                            "retention.ms": str(policy.retention.seconds(tier) * 1000),
                            "cleanup.policy": "delete",
                        },
                    )
                )
        policies = {name: rt.policy for name, rt in self.datasets.items()}
        specs.append(
            TopicSpec(
                settings.topic("audit"),
                1,
                settings.replication_factor,
                {
                    "retention.ms": str(audit_retention_seconds(policies) * 1000),
                    "cleanup.policy": "delete",
                },
            )
        )
        specs.append(
            TopicSpec(
                settings.topic(SCHEMAS_TOPIC_TIER),
                1,
                settings.replication_factor,
                {"cleanup.policy": "compact"},
            )
        )
        return specs

    def startup_audit(self) -> list[dict[str, object]]:
        now = self.clock.now()
        events = []
        for name, runtime in self.datasets.items():
            policy_bytes = runtime.policy.policy_path.read_bytes()
            schema_bytes = runtime.policy.schema_path.read_bytes()
            events.append(
                audit_event(
                    "policy_loaded",
                    now,
                    dataset=name,
                    policy_file=runtime.policy.policy_path.name,
                    policy_sha256=hashlib.sha256(policy_bytes).hexdigest(),
                    schema_sha256=hashlib.sha256(schema_bytes).hexdigest(),
                    k=runtime.policy.k,
                )
            )
        return events

    def run_worker(self, *, loglevel: str = "info") -> None:
        """Run the Faust worker in this process until it is stopped."""
        import faust

        from streams.app import create_app

        app = create_app(
            self.settings, {name: rt.processor for name, rt in self.datasets.items()}
        )
        faust.Worker(app, loglevel=loglevel).execute_from_commandline()


async def prepare_topics(settings: Settings, pipeline: Pipeline) -> None:
    """Create or correct the topics, publish schemas, and audit what start-up did."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **settings.kafka_client_options()
    )
    await admin.start()
    try:
        created, changes = await ensure_topics(admin, pipeline.topic_specs())
    finally:
        await admin.close()
    if created:
        log.info("created %d topics", len(created))
    now = pipeline.clock.now()
    audit = pipeline.startup_audit()
    audit += [{**c.as_audit(), "at": now.isoformat()} for c in changes]
    for change in changes:
        log.warning(
            "topic %s: %s was %s, set to %s (policy)",
            change.topic,
            change.config,
            change.was,
            change.now,
        )
    schema_messages = [
        Output(rt.anon_encoder.fingerprint.hex().encode(), rt.anon_encoder.schema_json().encode())
        for rt in pipeline.datasets.values()
    ]
    assert settings.bootstrap_servers is not None  # noqa: S101 - checked by the caller
    await send_all(
        settings.bootstrap_servers,
        [(settings.topic("audit"), Output(*encode_audit(a))) for a in audit]
        + [(settings.topic(SCHEMAS_TOPIC_TIER), m) for m in schema_messages],
        **settings.kafka_client_options(),
    )
