"""Three paths, one answer (SPEC 6): the live Faust tallies, the replay from Kafka and the
batch recompute from the archive give identical snapshots on the same events, including
duplicates, a conflict, corrections, retractions and late events."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from contracts.calendar import load_campaign
from contracts.registry import Registry
from infra.admin import ensure_topics
from infra.settings import Settings
from pipeline.cli import main
from pipeline.commands.worker import free_port
from streams.live import gather
from streams.live import parse_cutoff as live_cutoff
from tests.integration.test_warehouse import produce
from tests.streams.kafka_kit import WorkerProcess, lag, wait_until
from tests.warehouse.logkit import phase_one, phase_two
from warehouse.archive import Archiver
from warehouse.cells_table import cells_frame
from warehouse.cutoff import parse_cutoff
from warehouse.kafka_log import source_topics
from warehouse.replay import rebuild_from_archive, rebuild_from_kafka
from warehouse.snapshot import compare, resolve_snapshot, write_snapshot

pytestmark = pytest.mark.integration
REGISTRY = Registry.load()


def test_live_kafka_and_archive_snapshots_are_identical(
        settings_factory: Callable[..., Settings], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARREARS_CONFIG", raising=False)
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    conflict = dict(phase_one()[0], payload={**phase_one()[0]["payload"], "workers": 999})  # type: ignore[dict-item]
    events = phase_one() + phase_two() + [json.loads(json.dumps(conflict))]
    worker = WorkerProcess(settings, "w1", free_port(), tmp_path).start()
    try:
        worker.wait_ready()
        produce(settings, events)
        wait_until(lambda: lag(settings) == 0, 90, "the workers to have no lag")
        cutoff = parse_cutoff("2024-12-31")
        _, day = live_cutoff("2024-12-31", load_campaign())
        live_own, _ = gather(settings, day, timeout=60)
    finally:
        assert worker.stop() == 0, worker.log_tail()

    topics = source_topics(settings)
    kafka = rebuild_from_kafka(settings.bootstrap_servers, topics, None, REGISTRY)
    assert kafka.rebuild.outcomes["conflict"] == 1 and kafka.rebuild.outcomes["duplicate"] == 2
    archive = settings.state_dir / "archive"
    Archiver(settings.bootstrap_servers, settings, archive, REGISTRY).run(until_end=True)
    batch = rebuild_from_archive(archive, topics, kafka.offsets, REGISTRY)

    root = settings.state_dir / "snapshots"
    # the live path cuts its snapshot through the same writer, as `snapshot --from live` will
    live = write_snapshot(root, cutoff, cells_frame(live_own, REGISTRY), kafka.offsets,
                          source="live", event_count=kafka.rebuild.events, label="live")
    assert main(["snapshot", "--cutoff", "2024-12-31", "--label", "kafka", "--quiet"]) == 0
    assert main(["snapshot", "--cutoff", "2024-12-31", "--from", "archive", "--label",
                 "archive", "--quiet"]) == 0
    from_kafka = resolve_snapshot("2024-12-31@kafka", root)
    from_archive = resolve_snapshot("2024-12-31@archive", root)
    assert compare(live.cells(), from_kafka.cells()) == []
    assert compare(from_kafka.cells(), from_archive.cells()) == []
    assert compare(batch.cells(cutoff), kafka.cells(cutoff)) == []
    assert from_kafka.cells().filter(from_kafka.cells()["value"] != 0).height > 50
