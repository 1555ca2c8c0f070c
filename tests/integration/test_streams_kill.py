"""kill -9 a worker again and again while events stream in: the tallies stay exact."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings
from pipeline.commands.worker import free_port
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


def test_kill_9_while_streaming_changes_nothing(settings_factory: Callable[..., Settings],
                                                tmp_path: Path) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    records = workload(3000, seed=21)
    worker = WorkerProcess(settings, "k1", free_port(), tmp_path).start()
    try:
        worker.wait_ready()
        producer = Producer(settings, records, rate=220).start()
        kills = 0
        while kills < 4:
            # let it work for a while, with events in flight, then kill it mid-batch
            seen = (worker.status() or {}).get("counts", {}).get("applied", 0)
            wait_until(lambda: (worker.status() or {}).get("counts", {}).get("applied", 0)
                       > seen + 150, 60, "the worker to apply more events")
            worker.kill9()
            kills += 1
            time.sleep(0.5 * (kills % 2))  # sometimes restart at once, sometimes a bit later
            worker.start()
            worker.wait_ready()
        producer.join()
        assert producer.sent == len(records)
        wait_until(lambda: lag(settings) == 0, 90, "the group to have no lag")
        status = worker.status()
        assert status is not None and status["counts"].get("applied", 0) > 0
        checked = assert_live_form_equals_recompute(settings, [DEC31 - 20, DEC31, FINAL])
        assert checked > 1000
        # nothing rejected is lost and nothing is rejected twice under different ids
        assert set(dead_letter_ids(settings)) == expected_dead_letter_ids(source_log(settings))
    finally:
        worker.stop()
    assert worker.starts == 5, worker.log_tail()
