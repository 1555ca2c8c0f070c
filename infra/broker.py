"""The local Apache Kafka broker (KRaft, one node) on loopback, run from Maven Central jars."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from infra.errors import BrokerError
from infra.jars import Say, quiet, resolve_jars
from infra.settings import Settings

_READY_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30.0

#: How long a start waits for the ports of the last start to be free again.
_PORT_WAIT_S = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be listened on (as Kafka does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass(frozen=True)
class BrokerInfo:
    pid: int
    bootstrap: str
    version: str
    log: str
    data_dir: str
    started_at: float


class LocalBroker:
    """A single-node KRaft broker whose state lives in `settings.broker_dir`.

    >>> broker = LocalBroker(Settings.from_env())  # doctest: +SKIP
    >>> info = broker.start()                       # doctest: +SKIP
    >>> info.bootstrap                              # doctest: +SKIP
    '127.0.0.1:40123'
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.broker_dir
        self.info_file = self.dir / "broker.json"
        #: The ports the broker listens on, kept across stops and crashes: clients that
        #: knew the broker (running workers, a shell's ARREARS_BOOTSTRAP_SERVERS) find it
        #: again after a restart.
        self.ports_file = self.dir / "ports.json"
        self.log_file = self.dir / "broker.log"

    # -- state -----------------------------------------------------------------
    def info(self) -> BrokerInfo | None:
        """The running broker's details, or None when no broker of ours runs."""
        try:
            data = json.loads(self.info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        info = BrokerInfo(**data)
        if not pid_alive(info.pid) or not self._is_ours(info.pid):
            return None
        return info

    def _is_ours(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
        return "kafka.Kafka" in cmdline and str(self.dir) in cmdline

    # -- start -----------------------------------------------------------------
    def start(self, say: Say = quiet, timeout: float = _READY_TIMEOUT_S) -> BrokerInfo:
        """Start the broker unless it runs; return once it answers metadata requests."""
        running = self.info()
        if running is not None:
            return running
        if shutil.which("java") is None:
            raise BrokerError("Java is not on PATH; the local broker needs Java 17 or newer")
        libs = resolve_jars(self.settings, say)
        self.dir.mkdir(parents=True, exist_ok=True)
        data_dir = self.dir / "data"
        port, controller_port = self._ports(say)
        props = self.dir / "server.properties"
        props.write_text(self._properties(data_dir, port, controller_port), encoding="utf-8")
        log4j = self.dir / "log4j2.xml"
        log4j.write_text(_LOG4J_XML.replace("@LOG@", str(self.log_file)), encoding="utf-8")
        classpath = f"{libs}/*"
        java = [
            "java",
            f"-Xms{self.settings.broker_heap}",
            "-Xmx1g",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            classpath,
        ]
        if not (data_dir / "meta.properties").exists():
            self._format(java, props, data_dir)
        say(
            f"starting Kafka {self.settings.kafka_version} on 127.0.0.1:{port} "
            f"(log: {self.log_file})"
        )
        stdout = (self.dir / "broker.stdout").open("wb")
        proc = subprocess.Popen(
            [*java, "kafka.Kafka", str(props)],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI that started it; own process group
        )
        stdout.close()
        info = BrokerInfo(
            pid=proc.pid,
            bootstrap=f"127.0.0.1:{port}",
            version=self.settings.kafka_version,
            log=str(self.log_file),
            data_dir=str(data_dir),
            started_at=time.time(),
        )
        self.info_file.write_text(json.dumps(info.__dict__), encoding="utf-8")
        self._wait_ready(proc, info, timeout)
        return info

    def _ports(self, say: Say) -> tuple[int, int]:
        """The ports of the last start (ports.json) while both are free, else two new ones."""
        try:
            saved = json.loads(self.ports_file.read_text(encoding="utf-8"))
            port, controller_port = int(saved["port"]), int(saved["controller_port"])
        except (OSError, ValueError, KeyError, TypeError):
            port = controller_port = 0
        if port and controller_port and port != controller_port:
            # A broker killed a moment ago still holds its listeners until the kernel has
            # torn its sockets down: wait a little for them rather than move.
            deadline = time.monotonic() + _PORT_WAIT_S
            while True:
                if _port_free(port) and _port_free(controller_port):
                    return port, controller_port
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
            say(f"port {port} or {controller_port} is taken now; the broker moves to new ports")
        port, controller_port = _free_port(), _free_port()
        while controller_port == port:
            controller_port = _free_port()
        self.ports_file.write_text(
            json.dumps({"port": port, "controller_port": controller_port}), encoding="utf-8"
        )
        return port, controller_port

    def _properties(self, data_dir: Path, port: int, controller_port: int) -> str:
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data_dir),
            "num.partitions": str(self.settings.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",  # Faust creates its own changelog topics
        }
        return "".join(f"{k}={v}\n" for k, v in lines.items())

    def _format(self, java: list[str], props: Path, data_dir: Path) -> None:
        shutil.rmtree(data_dir, ignore_errors=True)
        cluster_id = kraft_cluster_id()
        result = subprocess.run(
            [
                *java,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--standalone",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(
                f"formatting the KRaft log directory failed:\n{result.stdout}{result.stderr}"
            )

    def _wait_ready(self, proc: subprocess.Popen[bytes], info: BrokerInfo, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(
                    f"the broker exited with code {proc.returncode} while starting; "
                    f"see {self.log_file} and {self.dir / 'broker.stdout'}\n{self._log_tail()}"
                )
            try:
                if broker_answers(info.bootstrap):
                    return
            except Exception as err:  # noqa: BLE001 - any client error means "not yet"
                last_error = str(err)
            time.sleep(0.25)
        self.stop()
        raise BrokerError(
            f"the broker did not become ready within {timeout:.0f}s ({last_error}); "
            f"see {self.log_file}\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no broker log written)"
        return "\n".join(text[-lines:])

    # -- stop ------------------------------------------------------------------
    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after `timeout`). False if none ran."""
        info = self.info()
        if info is None:
            self.info_file.unlink(missing_ok=True)
            return False
        os.killpg(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(info.pid):
            _reap(info.pid)
            time.sleep(0.1)
        if pid_alive(info.pid):
            os.killpg(info.pid, signal.SIGKILL)
            while pid_alive(info.pid):
                _reap(info.pid)
                time.sleep(0.05)
        self.info_file.unlink(missing_ok=True)
        return True

    def destroy(self) -> None:
        """Stop the broker and delete its data (tests, `infra down --purge`)."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def kraft_cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them: url-safe base64 of a uuid, never with a
    leading '-' (the storage tool would read it as an option)."""
    import base64

    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def broker_answers(bootstrap: str) -> bool:
    """True when a broker at `bootstrap` answers a metadata request with itself in it."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=3000, client_id="arrears-readiness"
    )
    try:
        return bool(admin.describe_cluster().get("brokers"))
    finally:
        admin.close()


_LOG4J_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="@LOG@" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""
