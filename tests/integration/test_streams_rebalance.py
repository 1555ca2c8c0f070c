"""Workers join and leave one group mid-stream: the partitions move, the tallies stay exact."""

from __future__ import annotations

import json
import urllib.request
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
from tests.streams.workload import DEC31, FINAL, recompute, workload

pytestmark = pytest.mark.integration


def _applied(worker: WorkerProcess) -> int:
    return int((worker.status() or {}).get("counts", {}).get("applied", 0))


def _split(*workers: WorkerProcess) -> bool:
    """Every worker ready with some partitions, together each partition exactly once."""
    statuses = [w.status() for w in workers]
    if not all(s and s["ready"] and s["partitions"] for s in statuses):
        return False
    owned = [p for s in statuses for p in s["partitions"]]  # type: ignore[index]
    return sorted(owned) == list(range(workers[0].settings.partitions))


def test_join_and_leave_mid_stream(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., WorkerProcess]
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    records = workload(3000, seed=33)
    first = worker_factory(settings, "r1", trace=True)
    second = worker_factory(settings, "r2", start=False)
    third = worker_factory(settings, "r3", start=False)
    producer = Producer(settings, records, rate=150).start()
    wait_until(lambda: _applied(first) > 300, 60, "r1 to apply events")
    second.start()  # joins: the group rebalances, r1 gives up some partitions
    wait_until(lambda: _split(first, second), 90, "r1 and r2 to share the partitions")
    wait_until(lambda: _applied(second) > 50, 60, "r2 to apply events")
    assert first.stop() == 0  # leaves mid-stream: r2 takes everything
    wait_until(lambda: _split(second), 90, "r2 to own every partition")
    third.start()  # and one more join while events still arrive
    wait_until(lambda: _split(second, third), 90, "r2 and r3 to share the partitions")
    producer.join()
    assert producer.sent == len(records)
    wait_until(lambda: lag(settings) == 0, 90, "the group to have no lag")
    assert _split(second, third)
    assert_live_form_equals_recompute(settings, [DEC31, FINAL])
    # a worker's own /form/ page gathers the other's part: same answer as the recompute
    with urllib.request.urlopen(
        f"http://127.0.0.1:{second.port}/form/320400/?cutoff=2024-12-31", timeout=10
    ) as r:
        page = json.load(r)
    assert page["complete"] and sorted(page["workers"]) == ["r2", "r3"]
    batch = recompute([v for *_, v in source_log(settings)], DEC31)
    assert page["figures"] == {c: v for (u, c), v in batch.items() if u == "320400"}
    assert set(dead_letter_ids(settings)) == expected_dead_letter_ids(source_log(settings))
    # `--trace` (on r1): JSON lines of its chunks and of the rebalance steps it went through
    trace = first.trace()
    assert {line["w"] for line in trace} == {"r1"}
    steps = {line["what"] for line in trace}
    assert {"assigned", "revoked", "rewind", "chunk-write", "shutdown"} <= steps, steps
    handled = [s for line in trace if line["what"] == "chunk-write" for *_, s in line["ev"]]
    assert handled.count("app") > 300  # r1 had applied more than 300 before r2 joined
