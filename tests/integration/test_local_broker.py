"""The local broker's lifecycle: up gives a working bootstrap, down leaves no JVM."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from citysieve.errors import BrokerError
from connectors.kafka_io import TopicSpec, create_topics, produce, read_topic
from connectors.local_broker import LocalBroker, _pid_alive

pytestmark = pytest.mark.integration


def test_when_up_then_aiokafka_produces_and_consumes_and_down_leaves_no_jvm(
    tmp_path: Path,
) -> None:
    broker = LocalBroker(tmp_path / "kafka")
    rec = broker.start()
    try:
        assert broker.record() == rec
        asyncio.run(create_topics(rec.bootstrap, [TopicSpec("smoke")]))
        asyncio.run(produce(rec.bootstrap, "smoke", [b"a", b"b"]))
        got = asyncio.run(read_topic(rec.bootstrap, "smoke", expect=2, timeout_s=20))
        assert [m.value for m in got] == [b"a", b"b"]
    finally:
        assert broker.stop() is True
    assert not _pid_alive(rec.pid)
    assert broker.record() is None
    assert broker.stop() is False


def test_when_port_in_use_then_start_refuses_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        broker = LocalBroker(tmp_path / "kafka")
        with pytest.raises(BrokerError, match=rf"Port {port} on 127.0.0.1 is in use"):
            broker.start(port=port)
    assert broker.record() is None


def test_when_the_jvm_cannot_start_then_error_shows_the_log_and_no_process_remains(
    tmp_path: Path,
) -> None:
    broker = LocalBroker(tmp_path / "kafka", heap="1k")  # the JVM refuses a 1 KiB heap
    with pytest.raises(BrokerError, match="exited with code") as info:
        broker.start()
    assert "heap" in str(info.value).lower()
    assert broker.record() is None
