"""Topics the pipeline owns: created with the policy's retention, drift corrected at start-up."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from citysieve.errors import BrokerError
from connectors.kafka_io import TopicSpec, wait_for_leaders

MANAGED_CONFIGS = ("retention.ms", "cleanup.policy")


@dataclass(frozen=True)
class TopicChange:
    """One correction made at start-up: what the topic had and what the policy says."""

    topic: str
    config: str
    was: str | None
    now: str

    def as_audit(self) -> dict[str, str | None]:
        return {
            "type": "topic_config_corrected",
            "topic": self.topic,
            "config": self.config,
            "was": self.was,
            "now": self.now,
        }


async def ensure_topics(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]
) -> tuple[list[str], list[TopicChange]]:
    """Create missing topics; correct managed configs that drifted from the specs.

    Returns the topics created and the corrections made (for the audit stream).
    """
    existing = set(await admin.list_topics())
    missing = [s for s in specs if s.name not in existing]
    created: list[str] = []
    if missing:
        new = [
            NewTopic(s.name, s.partitions, s.replication, topic_configs=dict(s.config))
            for s in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
            await admin.create_topics(new)
        created = [s.name for s in missing]
        await wait_for_leaders(admin, created)
    present = [s for s in specs if s.name in existing]
    changes = await _correct_drift(admin, present) if present else []
    return created, changes


async def _correct_drift(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]
) -> list[TopicChange]:
    current = await describe_topic_configs(admin, [s.name for s in specs])
    changes: list[TopicChange] = []
    to_alter: list[ConfigResource] = []
    for spec in specs:
        have = current.get(spec.name, {})
        wanted = {k: v for k, v in spec.config.items() if k in MANAGED_CONFIGS}
        drift = [
            TopicChange(spec.name, key, have.get(key), value)
            for key, value in wanted.items()
            if have.get(key) != value
        ]
        if drift:
            changes.extend(drift)
            # AlterConfigs replaces the topic's dynamic configs: send every one we manage.
            to_alter.append(ConfigResource(ConfigResourceType.TOPIC, spec.name, dict(spec.config)))
    if to_alter:
        for response in await admin.alter_configs(to_alter):
            for error_code, message, _type, name in response.resources:
                if error_code:
                    raise BrokerError(
                        f"Could not correct the configuration of topic {name}: {message}. "
                        "The pipeline's principal needs ALTER_CONFIGS on its topics."
                    )
    return changes


async def describe_topic_configs(
    admin: AIOKafkaAdminClient, topics: Sequence[str]
) -> dict[str, dict[str, str]]:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(MANAGED_CONFIGS))
        for name in topics
    ]
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for error_code, message, _type, name, entries in response.resources:
            if error_code:
                raise BrokerError(f"Could not read the configuration of topic {name}: {message}")
            out[name] = {entry[0]: entry[1] for entry in entries}
    return out
