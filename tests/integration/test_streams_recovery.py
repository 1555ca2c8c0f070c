"""A restarted worker rebuilds its tables from the changelog, not by re-reading the sources."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.admin import admin_client, end_offsets, ensure_topics
from infra.settings import Settings
from streams.app import TABLE, app_id
from tests.streams.kafka_kit import (
    Producer,
    WorkerProcess,
    assert_live_form_equals_recompute,
    committed_offsets,
    lag,
    source_partitions,
    wait_until,
)
from tests.streams.workload import DEC31, FINAL, workload

pytestmark = pytest.mark.integration


def _ends(settings: Settings) -> dict:  # type: ignore[type-arg]
    admin = admin_client(settings.bootstrap_servers)
    try:
        return end_offsets(admin, source_partitions(settings))
    finally:
        admin.close()


def test_restart_recovers_from_the_changelog(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., WorkerProcess]
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    records = workload(2200, seed=45)
    worker = worker_factory(settings, "c1")
    Producer(settings, records[:2000]).start().join()
    wait_until(lambda: lag(settings) == 0, 90, "the group to have no lag")
    assert_live_form_equals_recompute(settings, [FINAL])
    assert worker.stop() == 0
    # a graceful stop leaves the committed offsets at the end of every source partition
    ends = _ends(settings)
    assert committed_offsets(settings) == {tp: end for tp, end in ends.items() if end}

    worker.start()
    status = worker.wait_ready()
    # complete again, from the changelog alone: not one source record was read
    assert_live_form_equals_recompute(settings, [DEC31, FINAL])
    status = worker.status()
    assert status is not None and status["first_offsets"] == {}, status
    handled = {
        k: v
        for k, v in status["counts"].items()
        if k in ("applied", "skipped", "duplicate", "inactive", "rejected")
    }
    assert handled == {}, status

    Producer(settings, records[2000:]).start().join()
    wait_until(lambda: lag(settings) == 0, 90, "the group to have no lag")
    status = worker.status()
    assert status is not None
    for where, first in status["first_offsets"].items():
        topic, partition = where.rsplit(":", 1)
        previous_end = next(
            end for tp, end in ends.items() if tp.topic == topic and tp.partition == int(partition)
        )
        assert first == previous_end, (where, first, previous_end)
    assert (
        sum(status["counts"].get(k, 0) for k in ("applied", "duplicate", "inactive", "rejected"))
        == len(records) - 2000
    )
    assert status["counts"].get("skipped", 0) == 0
    assert_live_form_equals_recompute(settings, [DEC31, FINAL])
    changelog = f"{app_id(settings)}-{TABLE}-changelog"
    admin = admin_client(settings.bootstrap_servers)
    try:
        assert changelog in admin.list_topics()
    finally:
        admin.close()
