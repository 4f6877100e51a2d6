"""Missing programs give errors that say what to install; nothing is started."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from citysieve.errors import RuntimeDependencyError
from connectors.local_broker import KafkaRuntime, LocalBroker, _slf4j_binding, new_cluster_id


@pytest.mark.parametrize(
    ("version", "artifact"),
    [("4.3.1", "log4j-slf4j-impl"), ("4.0.0", "log4j-slf4j-impl"), ("3.9.2", "slf4j-reload4j")],
)
def test_when_version_is_chosen_then_the_matching_log_binding_is_added(
    version: str, artifact: str
) -> None:
    assert _slf4j_binding(version)[1] == artifact


@pytest.mark.parametrize("program", ["java", "mvn"])
def test_when_a_program_is_missing_then_fetch_says_what_to_install(
    program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = __import__("shutil").which
    monkeypatch.setattr(
        "connectors.local_broker.shutil.which",
        lambda name: None if name == program else real_which(name),
    )
    runtime = KafkaRuntime("4.3.1", root=tmp_path)
    with pytest.raises(RuntimeDependencyError, match=rf"'{program}' was not found on PATH"):
        runtime.ensure()


def test_when_java_is_missing_then_start_refuses_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.local_broker.shutil.which", lambda name: None)
    broker = LocalBroker(tmp_path / "kafka", KafkaRuntime("4.3.1", root=tmp_path / "cache"))
    with pytest.raises(RuntimeDependencyError, match="Install OpenJDK 17"):
        broker.start()
    assert broker.record() is None
    assert not (tmp_path / "kafka" / "data").exists()


def test_when_a_random_id_would_start_with_a_dash_then_another_is_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 0xF8 encodes to "-" as the first base64url character: the storage tool's
    # argument parser read such an id as an option, one start in 64.
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x04" + bytes(15))])
    monkeypatch.setattr("connectors.local_broker.uuid.uuid4", lambda: next(draws))
    cid = new_cluster_id()
    assert cid == "BAAAAAAAAAAAAAAAAAAAAA"
    assert len(cid) == 22
