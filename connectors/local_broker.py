"""A real single-node Apache Kafka broker for laptops and CI, run from Maven Central's jars.

Two parts:

* :class:`KafkaRuntime` resolves ``org.apache.kafka:kafka_2.13:<version>`` and its
  dependencies (plus the SLF4J binding Kafka needs to log) with Maven, once per
  version, into ``<cache>/kafka/<version>/libs``.
* :class:`LocalBroker` runs that runtime in KRaft combined mode (broker and
  controller in one JVM) on 127.0.0.1, with its data, config, logs and a small
  ``broker.json`` record under a state directory, so ``up``, ``status`` and
  ``down`` can be separate commands.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from citysieve.errors import BrokerError, RuntimeDependencyError
from citysieve.paths import cache_dir, state_dir

DEFAULT_KAFKA_VERSION = "4.3.1"
"""Newest 4.x release on Maven Central that passes the integration tests (see DEVELOPERS.md)."""

POM = Path(__file__).resolve().parent / "kafka_runtime" / "pom.xml"
_COMPLETE = ".complete"
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0


def kafka_version() -> str:
    return os.environ.get("CITYSIEVE_KAFKA_VERSION", DEFAULT_KAFKA_VERSION)


def _require(program: str, hint: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeDependencyError(f"'{program}' was not found on PATH. {hint}")
    return path


def _slf4j_binding(version: str) -> tuple[str, str, str]:
    """Kafka 4 logs through log4j2; Kafka 3 through reload4j (log4j 1 API)."""
    if int(version.split(".", 1)[0]) >= 4:
        return ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3")
    return ("org.slf4j", "slf4j-reload4j", "1.7.36")


class KafkaRuntime:
    """Kafka's jars for one version, fetched with Maven and cached."""

    def __init__(self, version: str | None = None, root: Path | None = None) -> None:
        self.version = version or kafka_version()
        self.home = (root or cache_dir() / "kafka") / self.version
        self.libs = self.home / "libs"

    @property
    def ready(self) -> bool:
        return (self.libs / _COMPLETE).exists()

    def ensure(self, *, quiet: bool = True) -> Path:
        """Fetch the jars unless this version is cached already; returns the libs dir."""
        if self.ready:
            return self.libs
        mvn = _require(
            "mvn",
            "Install Apache Maven (Debian: apt-get install maven), or point citysieve at an "
            "existing cluster with KAFKA_BOOTSTRAP_SERVERS.",
        )
        _require("java", "Install OpenJDK 17 (Debian: apt-get install openjdk-17-jre-headless).")
        staging = self.home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        group, artifact, binding_version = _slf4j_binding(self.version)
        cmd = [
            mvn,
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-Dkafka.version={self.version}",
            f"-Dlog.binding.group={group}",
            f"-Dlog.binding.artifact={artifact}",
            f"-Dlog.binding.version={binding_version}",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        if quiet:
            cmd.insert(2, "-q")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise BrokerError(
                f"Maven could not fetch Apache Kafka {self.version} from Maven Central:\n{tail}\n"
                "Check the version exists (CITYSIEVE_KAFKA_VERSION) and that Maven Central is "
                "reachable; 3.9.2 is the documented fallback."
            )
        (staging / _COMPLETE).write_text(self.version + "\n")
        shutil.rmtree(self.libs, ignore_errors=True)
        staging.rename(self.libs)
        return self.libs

    def classpath(self) -> str:
        return str(self.libs / "*")


@dataclass(frozen=True)
class BrokerRecord:
    """What a running broker left in its state dir, so other commands can find it."""

    pid: int
    bootstrap: str
    controller: str
    version: str
    started_at: float

    @classmethod
    def read(cls, path: Path) -> BrokerRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (bound and released; the broker binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    return True


def metadata_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when the broker at ``bootstrap`` answers a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient

    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError:
        return False  # not listening yet; skip aiokafka, which would log the refusal

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
        )
        try:
            await asyncio.wait_for(admin.start(), timeout_s)
            await asyncio.wait_for(admin.list_topics(), timeout_s)
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    return asyncio.run(probe())


def new_cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes, URL-safe base64, unpadded.

    Like Kafka's own ``Uuid.randomUuid``, it never starts with ``-``: one id in 64
    would otherwise, and a command-line parser reads that as an option.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class LocalBroker:
    """One Kafka JVM in KRaft combined mode, managed through a state directory."""

    def __init__(
        self,
        state: Path | None = None,
        runtime: KafkaRuntime | None = None,
        *,
        heap: str = "512m",
    ) -> None:
        self.state = state or state_dir() / "kafka"
        self.runtime = runtime or KafkaRuntime()
        self.heap = heap
        self.record_path = self.state / "broker.json"
        self.log_path = self.state / "logs" / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None  # set when this object started it

    # -- queries ---------------------------------------------------------------
    def record(self) -> BrokerRecord | None:
        """The running broker's record, or None (a stale record is removed)."""
        rec = BrokerRecord.read(self.record_path)
        if rec is None:
            return None
        if not _pid_alive(rec.pid):
            self.record_path.unlink(missing_ok=True)
            return None
        return rec

    # -- lifecycle -------------------------------------------------------------
    def start(
        self,
        *,
        port: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> BrokerRecord:
        """Start the broker (or return the one already running) and wait until it answers."""
        say = progress or (lambda _msg: None)
        running = self.record()
        if running is not None:
            return running
        java = _require(
            "java", "Install OpenJDK 17 (Debian: apt-get install openjdk-17-jre-headless)."
        )
        if port is not None and port_in_use(port):
            raise BrokerError(
                f"Port {port} on 127.0.0.1 is in use. Stop what holds it, or leave --port out "
                "and citysieve picks a free one."
            )
        if not self.runtime.ready:
            say(f"fetching Apache Kafka {self.runtime.version} jars with Maven (first time only)")
        self.runtime.ensure()

        client_port = port or free_port()
        controller_port = free_port()
        while controller_port == client_port:
            controller_port = free_port()
        config = self._write_config(client_port, controller_port)
        self._format_storage(java, config)

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        stdout = (self.state / "logs" / "stdout.log").open("ab")
        cmd = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            *self._log_flags(),
            "-cp",
            self.runtime.classpath(),
            "kafka.Kafka",
            str(config),
        ]
        say(f"starting Kafka {self.runtime.version} (KRaft) on 127.0.0.1:{client_port}")
        with stdout:
            proc = subprocess.Popen(  # noqa: S603
                cmd,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.state,
            )
        rec = BrokerRecord(
            pid=proc.pid,
            bootstrap=f"127.0.0.1:{client_port}",
            controller=f"127.0.0.1:{controller_port}",
            version=self.runtime.version,
            started_at=time.time(),
        )
        self._proc = proc
        try:
            self._wait_ready(proc, rec)
        except BaseException:
            self._kill(proc.pid)
            raise
        self.record_path.write_text(json.dumps(asdict(rec)))
        return rec

    def stop(self) -> bool:
        """Stop the broker if it runs; returns whether one was stopped. No JVM is left behind."""
        rec = BrokerRecord.read(self.record_path)
        if rec is None:
            return False
        stopped = _pid_alive(rec.pid)
        if stopped:
            self._kill(rec.pid)
        self.record_path.unlink(missing_ok=True)
        return stopped

    # -- internals -------------------------------------------------------------
    def _write_config(self, client_port: int, controller_port: int) -> Path:
        data = self.state / "data"
        data.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{client_port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "log.retention.check.interval.ms": "60000",
        }
        config = self.state / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return config

    def _format_storage(self, java: str, config: Path) -> None:
        """Format the log dir on first start; later starts keep the topics and offsets.

        The quorum is static (``controller.quorum.voters`` in the config), so a restart
        on other ports reuses the same data.
        """
        data = self.state / "data"
        if (data / "meta.properties").exists():
            return
        cid = new_cluster_id()
        proc = subprocess.run(  # noqa: S603
            [
                java,
                *self._log_flags(),
                "-cp",
                self.runtime.classpath(),
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cid}",
                f"--config={config}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BrokerError(
                f"Kafka could not format its storage under {data}:\n"
                f"{(proc.stdout + proc.stderr).strip()[-800:]}"
            )

    def _log_flags(self) -> list[str]:
        logs = self.state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        if int(self.runtime.version.split(".", 1)[0]) >= 4:
            conf = logs / "log4j2.properties"
            conf.write_text(
                "status = warn\n"
                "appender.file.type = File\n"
                "appender.file.name = file\n"
                f"appender.file.fileName = {self.log_path}\n"
                "appender.file.layout.type = PatternLayout\n"
                "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
                "rootLogger.level = INFO\n"
                "rootLogger.appenderRef.file.ref = file\n"
            )
            return [f"-Dlog4j2.configurationFile={conf}"]
        conf = logs / "log4j.properties"
        conf.write_text(
            "log4j.rootLogger=INFO, file\n"
            "log4j.appender.file=org.apache.log4j.FileAppender\n"
            f"log4j.appender.file.File={self.log_path}\n"
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        )
        return [f"-Dlog4j.configuration=file:{conf}"]

    def _wait_ready(self, proc: subprocess.Popen[bytes], rec: BrokerRecord) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(
                    f"Kafka exited with code {proc.returncode} before it was ready.\n"
                    f"{self._log_tail()}\nFull log: {self.log_path}"
                )
            if metadata_answers(rec.bootstrap, timeout_s=2.0):
                return
            time.sleep(0.3)
        raise BrokerError(
            f"Kafka did not answer metadata requests within {_READY_TIMEOUT_S:.0f} s "
            f"on {rec.bootstrap}.\n{self._log_tail()}\nFull log: {self.log_path}"
        )

    def _log_tail(self, lines: int = 12) -> str:
        tails: list[str] = []
        for path in (self.log_path, self.state / "logs" / "stdout.log"):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").strip().splitlines()
                tails.extend(line for line in text[-lines:] if line)
        return "\n".join(tails[-lines:])

    def _kill(self, pid: int) -> None:
        """SIGTERM the broker's process group, then SIGKILL what is left after a grace period."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while time.monotonic() < deadline and _pid_alive(pid):
            self._reap(pid)
            time.sleep(0.1)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self._reap(pid, block=True)

    def _reap(self, pid: int, *, block: bool = False) -> None:
        """Collect the exit status when the JVM is our child (else it was started elsewhere)."""
        if self._proc is not None and self._proc.pid == pid:
            if block:
                self._proc.wait()
            else:
                self._proc.poll()
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0 if block else os.WNOHANG)
