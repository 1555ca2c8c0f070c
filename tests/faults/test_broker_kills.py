"""kill -9 the broker during ingest and while the workers stream, start it again with
`infra up`'s code: it comes back on the same ports, ingest and the workers go on by
themselves, nothing is lost or counted twice, and the workers stop within 10 s of SIGTERM,
even while the broker is down."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.broker import BrokerInfo, LocalBroker, pid_alive
from infra.settings import Settings
from tests.faults.procs import arrears, generate, records_in_log
from tests.faults.verdict import Verdict, three_paths
from tests.streams.kafka_kit import Producer, WorkerProcess, wait_caught_up, wait_until
from tests.streams.workload import workload

pytestmark = [pytest.mark.integration, pytest.mark.faults]


class OwnBroker:
    """A broker of this test's own (the session's is shared), to kill and start again."""

    def __init__(self, state: Path) -> None:
        cache = Settings.from_env(
            {k: v for k, v in os.environ.items() if k == "ARREARS_CACHE_DIR"}
        ).cache_dir
        self.local = LocalBroker(Settings(state_dir=state, cache_dir=cache))
        self.info: BrokerInfo = self.local.start()

    def kill9(self) -> None:
        os.killpg(self.info.pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(self.info.pid), 30, "the broker to die")

    def restart(self) -> float:
        """Start it again; returns the seconds it took. It must keep its address."""
        started = time.monotonic()
        again = self.local.start()
        assert again.bootstrap == self.info.bootstrap, "the broker came back on new ports"
        self.info = again
        return time.monotonic() - started


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path / "broker-state")
    try:
        yield broker
    finally:
        broker.local.destroy()


def _settings(broker: OwnBroker, tmp_path: Path) -> Settings:
    settings = Settings(
        bootstrap_servers=broker.info.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        partitions=3,
        state_dir=tmp_path / "state",
    )
    ensure_topics(settings.bootstrap_servers, settings)
    return settings


def test_broker_kill_9_during_ingest_loses_and_doubles_nothing(
    own_broker: OwnBroker,
    tmp_path: Path,
    worker_factory: Callable[..., WorkerProcess],
    record_verdict: Callable[[Verdict], None],
) -> None:
    settings = _settings(own_broker, tmp_path)
    data = tmp_path / "december.jsonl"
    lines = generate(data, 20_000, seed=7)
    worker = worker_factory(settings, "b1")

    ingest = arrears(settings, "ingest", "--quiet", str(data))
    wait_until(lambda: records_in_log(settings) > 3000, 120, "ingest to send a part")
    assert ingest.poll() is None, "ingest was over before the broker could be killed"
    own_broker.kill9()
    time.sleep(2.0)
    restarted = time.monotonic()
    own_broker.restart()
    out, err = ingest.communicate(timeout=300)
    assert "Traceback" not in err, err
    if ingest.returncode not in (0, 3):
        # gave up while the broker was away: it must say how to go on, and going on works
        assert "--skip-known" in err, err
        again = arrears(settings, "ingest", "--quiet", "--skip-known", str(data))
        out, err = again.communicate(timeout=300)
        assert again.returncode in (0, 3), err
    wait_caught_up(settings, timeout=180)
    recovery = time.monotonic() - restarted  # broker back, ingest done, workers caught up
    verdict = three_paths(  # and the file itself: every valid line once
        settings, tmp_path, "broker kill -9 during ingest", sent=len(lines), input_lines=lines
    )
    assert worker.stop(timeout=10) == 0, worker.log_tail()
    record_verdict(dataclasses.replace(verdict, recovery_s=recovery))


def test_broker_kill_9_while_streaming_workers_reconnect_and_stop_in_10_s(
    own_broker: OwnBroker,
    tmp_path: Path,
    worker_factory: Callable[..., WorkerProcess],
    record_verdict: Callable[[Verdict], None],
) -> None:
    settings = _settings(own_broker, tmp_path)
    records = workload(3000, seed=71)
    first = worker_factory(settings, "s1")
    second = worker_factory(settings, "s2")
    producer = Producer(settings, records, rate=200, allowed=1500).start()
    wait_until(lambda: records_in_log(settings) > 600, 60, "events to flow")
    own_broker.kill9()  # mid-stream: the producer and both workers lose the broker
    time.sleep(3.0)
    restarted = time.monotonic()
    own_broker.restart()
    producer.allow()
    producer.join(timeout=300)
    assert producer.sent == len(records)
    wait_caught_up(settings, timeout=180)
    recovery = time.monotonic() - restarted  # broker back, workers caught up by themselves
    verdict = three_paths(
        settings,
        tmp_path,
        "broker kill -9 while streaming",
        sent=len(records),
        input_lines=[r.value for r in records],  # every record reached the log
    )
    assert first.alive() and second.alive(), first.log_tail() + second.log_tail()

    # SIGTERM while the broker is down: a worker must not wait for it
    own_broker.kill9()
    took = time.monotonic()
    assert first.stop(timeout=10) == 0, first.log_tail()
    assert second.stop(timeout=10) == 0, second.log_tail()
    assert time.monotonic() - took < 20
    record_verdict(dataclasses.replace(verdict, recovery_s=recovery))
