"""kill -9 a worker twenty times while events stream in, with a second worker joining and
leaving in between (two rebalances besides the kills'): the tallies stay exact."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings
from tests.faults.verdict import Verdict, three_paths
from tests.streams.kafka_kit import (
    Producer,
    WorkerProcess,
    dead_letter_ids,
    expected_dead_letter_ids,
    lag,
    source_log,
    wait_until,
)
from tests.streams.workload import workload

pytestmark = [pytest.mark.integration, pytest.mark.faults]

KILLS = 20
JOIN_AFTER, LEAVE_AFTER = 7, 14


def _applied(worker: WorkerProcess) -> int:
    return int((worker.status() or {}).get("counts", {}).get("applied", 0))


def test_twenty_kills_and_two_rebalances_while_streaming_change_nothing(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
    record_verdict: Callable[[Verdict], None],
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    records = workload(6300, seed=21)
    # One slice of the stream per worker process: a slice is released only once the
    # (re)started worker is ready, so however fast the producer or slow a restart, every
    # kill lands while events are streaming in, and the last process has a slice too.
    size = len(records) // (KILLS + 1)
    worker = worker_factory(settings, "k1")
    helper = worker_factory(settings, "k2", start=False)
    producer = Producer(settings, records, rate=260, allowed=0).start()
    restarts: list[float] = []
    for kill in range(1, KILLS + 1):
        producer.allow(size)
        # counts are per process: this one has applied events of the slice...
        wait_until(lambda: _applied(worker) > 30, 90, f"k1 to apply events (kill {kill})")
        # ...and more are on their way or not yet applied: kill it mid-stream
        assert producer.streaming() or lag(settings) > 0, (
            f"kill {kill}: the slice was already applied; the kill would not be mid-stream"
        )
        worker.kill9()
        time.sleep(0.5 * (kill % 2))  # sometimes restart at once, sometimes a bit later
        started = time.monotonic()
        worker.start()
        worker.wait_ready(timeout=120)
        restarts.append(time.monotonic() - started)
        if kill == JOIN_AFTER:
            helper.start()  # a rebalance: k2 joins and takes some partitions
            helper.wait_ready(timeout=120)
        if kill == LEAVE_AFTER:
            assert helper.stop(timeout=10) == 0, helper.log_tail()  # and one as it leaves
    producer.allow()
    producer.join()
    assert producer.sent == len(records)
    # the last process applies the last slice (it may still be fetching it as sending ends)
    wait_until(lambda: _applied(worker) > 0, 60, "the last k1 process to apply events")
    assert worker.starts == KILLS + 1 and helper.starts == 1, worker.log_tail()
    verdict = three_paths(
        settings,
        tmp_path,
        f"{KILLS} worker kill -9, 2 rebalances",
        sent=len(records),
        recovery_s=max(restarts),
    )
    # nothing rejected is lost and nothing is rejected twice under different ids
    assert set(dead_letter_ids(settings)) == expected_dead_letter_ids(source_log(settings))
    record_verdict(verdict)
