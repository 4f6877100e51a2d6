"""A Faust agent, run as a real worker process, reads one topic and writes another."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.kafka_io import TopicSpec, create_topics, produce, read_topic
from connectors.testing import TestBroker

pytestmark = pytest.mark.integration
APPS = Path(__file__).parent / "apps"


def test_when_events_go_in_then_the_agent_writes_each_once_transformed(
    kafka: TestBroker, topic_prefix: str, tmp_path: Path
) -> None:
    topic_in, topic_out = f"{topic_prefix}in", f"{topic_prefix}out"
    asyncio.run(create_topics(kafka.bootstrap, [TopicSpec(topic_in, 2), TopicSpec(topic_out, 2)]))
    values = [f"event-{i}".encode() for i in range(50)]
    asyncio.run(
        produce(kafka.bootstrap, topic_in, values, keys=[str(i).encode() for i in range(50)])
    )

    env = {
        **os.environ,
        "ECHO_APP_ID": f"{topic_prefix}echo",
        "ECHO_BOOTSTRAP": kafka.bootstrap,
        "ECHO_IN": topic_in,
        "ECHO_OUT": topic_out,
        "PYTHONPATH": str(APPS),
    }
    faust_cli = Path(sys.executable).with_name("faust")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            str(faust_cli),
            "-A",
            "echo_app",
            "--datadir",
            str(tmp_path / "data"),
            "worker",
            "-l",
            "info",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        received = asyncio.run(read_topic(kafka.bootstrap, topic_out, expect=50, timeout_s=60))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        log.close()

    got = sorted(m.value for m in received if m.value is not None)
    assert got == sorted(v.upper() for v in values), (tmp_path / "worker.log").read_text()[-2000:]
    # Keys travel with the values (partitioning by key is preserved).
    assert {m.key for m in received} == {str(i).encode() for i in range(50)}
