from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from connectors.testing import TestBroker, test_broker

_BROKERS_USED: list[TestBroker] = []


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBroker]:
    """A real broker for the whole session; fails (never skips) when none can be had."""
    with test_broker(tmp_path_factory.mktemp("kafka")) as broker:
        _BROKERS_USED.append(broker)
        yield broker


@pytest.fixture
def topic_prefix() -> str:
    """Topic names unique to one test, so tests never see each other's messages."""
    return f"t{uuid.uuid4().hex[:10]}."


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for broker in _BROKERS_USED:
        terminalreporter.write_line(
            f"integration tests ran against: {broker.origin}, Kafka {broker.version}, "
            f"bootstrap {broker.bootstrap}"
        )
