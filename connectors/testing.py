"""A real Kafka broker for tests, chosen once per test session.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` when set; else testcontainers' Kafka when a
Docker engine answers; else the project's own local broker (KRaft, Maven jars).
Nothing is skipped: when no broker can be had, the error says why.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectors.local_broker import LocalBroker


@dataclass(frozen=True)
class TestBroker:
    __test__ = False  # not a pytest test class

    bootstrap: str
    origin: str  # "KAFKA_BOOTSTRAP_SERVERS" | "testcontainers" | "local broker"
    version: str


def docker_answers() -> bool:
    """True when a Docker engine answers a ping (only then is testcontainers tried)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        path = host.removeprefix("unix://")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(path)
            except OSError:
                return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextmanager
def test_broker(state: Path) -> Iterator[TestBroker]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield TestBroker(configured, "KAFKA_BOOTSTRAP_SERVERS", "unknown")
        return
    if docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield TestBroker(container.get_bootstrap_server(), "testcontainers", "container")
        return
    broker = LocalBroker(state)
    record = broker.start()
    try:
        yield TestBroker(record.bootstrap, "local broker", record.version)
    finally:
        broker.stop()
