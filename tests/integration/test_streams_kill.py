"""kill -9 a worker again and again while events stream in: the tallies stay exact."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings
from tests.streams.kafka_kit import (
    Producer,
    WorkerProcess,
    assert_live_form_equals_recompute,
    dead_letter_ids,
    expected_dead_letter_ids,
    lag,
    source_log,
    wait_until,
)
from tests.streams.workload import DEC31, FINAL, workload

pytestmark = pytest.mark.integration


def _applied(worker: WorkerProcess) -> int:
    return int((worker.status() or {}).get("counts", {}).get("applied", 0))


def test_kill_9_while_streaming_changes_nothing(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., WorkerProcess]
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    records = workload(3000, seed=21)
    kills = 4
    # One slice of the stream per worker process: a slice is released only once the
    # (re)started worker is ready, so however fast the producer or slow a restart, every
    # kill lands while events are streaming in, and the last process has a slice too.
    size = len(records) // (kills + 1)
    worker = worker_factory(settings, "k1")
    producer = Producer(settings, records, rate=220, allowed=0).start()
    for kill in range(1, kills + 1):
        producer.allow(size)
        # counts are per process: this one has applied events of the slice...
        wait_until(lambda: _applied(worker) > 150, 60, "the worker to apply more events")
        # ...and more are on their way or not yet applied: kill it mid-stream
        assert producer.streaming() or lag(settings) > 0, (
            f"kill {kill}: the slice was already applied; the kill would not be mid-stream"
        )
        worker.kill9()
        time.sleep(0.5 * (kill % 2))  # sometimes restart at once, sometimes a bit later
        worker.start()
        worker.wait_ready()
    producer.allow()
    producer.join()
    assert producer.sent == len(records)
    wait_until(lambda: lag(settings) == 0, 90, "the group to have no lag")
    assert _applied(worker) > 0  # the last process applied the last slice
    checked = assert_live_form_equals_recompute(settings, [DEC31 - 20, DEC31, FINAL])
    assert checked > 1000
    # nothing rejected is lost and nothing is rejected twice under different ids
    assert set(dead_letter_ids(settings)) == expected_dead_letter_ids(source_log(settings))
    assert worker.starts == 5, worker.log_tail()
