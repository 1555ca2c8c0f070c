"""Three paths, one answer (SPEC 6): the live Faust tallies, the replay from Kafka and the
batch recompute from the archive give identical snapshots on the same events, including
duplicates, a conflict, corrections, retractions and late events; and a live snapshot
records the offsets it reflects, so replaying the log to them rebuilds it (bitemporal)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from contracts.cutoff import parse_cutoff
from contracts.registry import Registry
from infra.admin import ensure_topics
from infra.settings import Settings
from pipeline.cli import main
from pipeline.commands.worker import free_port
from tests.integration.test_warehouse import produce
from tests.streams.kafka_kit import WorkerProcess, lag, wait_until
from tests.warehouse.logkit import phase_one, phase_two
from warehouse.archive import Archiver
from warehouse.kafka_log import source_topics
from warehouse.offsets import offsets_from_json, total
from warehouse.replay import rebuild_from_archive, rebuild_from_kafka
from warehouse.snapshot import compare, resolve_snapshot

pytestmark = pytest.mark.integration
REGISTRY = Registry.load()


def test_live_kafka_and_archive_snapshots_are_identical(
    settings_factory: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARREARS_CONFIG", raising=False)
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    conflict = dict(phase_one()[0], payload={**phase_one()[0]["payload"], "workers": 999})  # type: ignore[dict-item]
    worker = WorkerProcess(settings, "w1", free_port(), tmp_path).start()
    try:
        worker.wait_ready()
        # close of business: the live snapshot records where the workers are, mid-log
        produce(settings, phase_one())
        wait_until(lambda: lag(settings) == 0, 90, "the workers to have no lag")
        assert (
            main(
                [
                    "snapshot",
                    "--cutoff",
                    "2024-12-31",
                    "--from",
                    "live",
                    "--label",
                    "cob",
                    "--quiet",
                ]
            )
            == 0
        )
        produce(settings, phase_two() + [json.loads(json.dumps(conflict))])
        wait_until(lambda: lag(settings) == 0, 90, "the workers to have no lag")
        assert (
            main(
                [
                    "snapshot",
                    "--cutoff",
                    "2024-12-31",
                    "--from",
                    "live",
                    "--label",
                    "live",
                    "--quiet",
                ]
            )
            == 0
        )
    finally:
        assert worker.stop() == 0, worker.log_tail()

    cutoff = parse_cutoff("2024-12-31")
    topics = source_topics(settings)
    kafka = rebuild_from_kafka(settings.bootstrap_servers, topics, None, REGISTRY)
    assert kafka.rebuild.outcomes["conflict"] == 1 and kafka.rebuild.outcomes["duplicate"] == 2
    archive = settings.state_dir / "archive"
    Archiver(settings.bootstrap_servers, settings, archive, REGISTRY).run(until_end=True)
    batch = rebuild_from_archive(archive, topics, kafka.offsets, REGISTRY)

    root = settings.state_dir / "snapshots"
    live = resolve_snapshot("2024-12-31@live", root)
    cob = resolve_snapshot("2024-12-31@cob", root)
    assert live.meta["source"] == "live" and live.offsets == kafka.offsets
    assert live.meta["event_count"] == kafka.rebuild.events
    # the workers had no lag when each live snapshot was cut: nothing past them in the log
    assert live.meta["records_behind_log_end"] == 0
    assert offsets_from_json(live.meta["log_end"]) == live.offsets
    # the close-of-business vector is a strict prefix of the log, after which the figures
    # were restated: replaying exactly to it, and only to it, gives the live snapshot back
    at_cob = rebuild_from_kafka(settings.bootstrap_servers, topics, cob.offsets, REGISTRY)
    assert 0 < total(cob.offsets) < total(kafka.offsets)
    assert cob.meta["event_count"] == at_cob.rebuild.events
    assert compare(cob.cells(), live.cells()) != []
    capsys.readouterr()
    for snapshot in ("2024-12-31@cob", "2024-12-31@live"):
        assert main(["replay", "--from", "kafka", "--verify", snapshot, "--quiet"]) == 0
        out = capsys.readouterr().out
        assert "verified:" in out and "note:" not in out, out  # the event counts agree too

    assert main(["snapshot", "--cutoff", "2024-12-31", "--label", "kafka", "--quiet"]) == 0
    assert (
        main(
            [
                "snapshot",
                "--cutoff",
                "2024-12-31",
                "--from",
                "archive",
                "--label",
                "archive",
                "--quiet",
            ]
        )
        == 0
    )
    from_kafka = resolve_snapshot("2024-12-31@kafka", root)
    from_archive = resolve_snapshot("2024-12-31@archive", root)
    assert compare(live.cells(), from_kafka.cells()) == []
    assert compare(from_kafka.cells(), from_archive.cells()) == []
    assert compare(batch.cells(cutoff), kafka.cells(cutoff)) == []
    assert from_kafka.cells().filter(from_kafka.cells()["value"] != 0).height > 50
