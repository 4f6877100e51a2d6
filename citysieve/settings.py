"""Deployment settings: environment variables first, then a YAML settings file.

Every variable is ``CITYSIEVE_<NAME>``; the Kafka bootstrap also reads the common
``KAFKA_BOOTSTRAP_SERVERS``. The settings file is ``$CITYSIEVE_SETTINGS_FILE``
(YAML, same names in lower case without the prefix). Secrets are ``SecretStr``:
they print as ``**********`` and :meth:`Settings.redacted` never shows them.
Pseudonymization and encryption keys are not settings: see ``citysieve.keys``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from policies import POLICY_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYSIEVE_", extra="forbid", frozen=True, populate_by_name=True
    )

    bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CITYSIEVE_BOOTSTRAP_SERVERS"),
        description="host:port[,host:port]; unset means the local broker (demo only)",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    schema_registry_url: str | None = Field(
        default=None, description="Confluent Schema Registry; unset means self-describing Avro"
    )
    schema_registry_auth: SecretStr | None = Field(
        default=None, description="user:password for the registry's basic auth"
    )
    policy_dir: Path = POLICY_DIR
    topic_prefix: str = ""
    app_id: str = "citysieve"
    replication_factor: int = Field(default=1, ge=1)
    batch_size: int = Field(default=500, ge=1, description="events per agent batch")
    batch_within_s: float = Field(
        default=0.1,
        gt=0,
        description="max wait to fill a batch: the latency floor at low rates",
    )
    session_timeout_s: float = Field(
        default=30.0,
        ge=6.0,
        description="a dead worker's partitions move to the others after this long",
    )
    idle_close_s: float = Field(
        default=300.0,
        gt=0,
        description="close a partition's open windows after this long with no events",
    )
    stage: Literal["all", "anonymize", "publish"] = Field(
        default="all",
        description=(
            "the part of the pipeline a worker runs: all, anonymize (raw -> anon) or publish "
            "(anon -> open -> sink), so each can be scaled on its own"
        ),
    )
    sink_url: str = Field(default="out/public", description="public sink: a path or fsspec URL")
    state_dir: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        settings_file = os.environ.get("CITYSIEVE_SETTINGS_FILE")
        if settings_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=settings_file))
        return tuple(sources)

    @property
    def group_id(self) -> str:
        """The consumer group (Faust app id) of this worker's stage.

        ``all`` and ``anonymize`` share ``app_id``, so raw offsets carry over between
        them; ``publish`` is ``<app_id>-publish``.
        """
        return f"{self.app_id}-publish" if self.stage == "publish" else self.app_id

    def topic(self, tier: str, dataset: str | None = None) -> str:
        """``<prefix>iot.<tier>.<dataset>`` (or ``<prefix>iot.audit``)."""
        name = f"iot.{tier}" if dataset is None else f"iot.{tier}.{dataset}"
        return f"{self.topic_prefix}{name}"

    def kafka_client_options(self) -> dict[str, Any]:
        """Options shared by aiokafka producers, consumers and admin clients."""
        opts: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            opts["ssl_context"] = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            )
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return opts

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict for logs and ``--show-settings``: secrets masked."""
        return self.model_dump(mode="json")
