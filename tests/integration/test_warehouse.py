"""Warehouse against the real broker: snapshot as of O1, replay --verify, archive, and
two paths (Kafka replay, archive batch) giving one answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from kafka import KafkaProducer

from contracts.cutoff import parse_cutoff
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import source_topic
from pipeline.cli import main
from tests.warehouse.logkit import Log, phase_one, phase_two
from warehouse.cells_table import cells_frame
from warehouse.kafka_log import source_topics
from warehouse.rebuild import Rebuild
from warehouse.replay import rebuild_from_archive, rebuild_from_kafka
from warehouse.snapshot import compare, resolve_snapshot

pytestmark = pytest.mark.integration

REGISTRY = Registry.load()
CUTOFF = parse_cutoff("2024-12-31")


def produce(settings: Settings, events: list[dict[str, Any] | str]) -> None:
    """Send events to their source topic keyed by unit, as `arrears ingest` does."""
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True
    )
    try:
        for e in events:
            if isinstance(e, str):  # an invalid record straight from a source system
                producer.send(source_topic(settings, "inspection"), key=b"320412", value=e.encode())
            else:
                producer.send(
                    source_topic(settings, e["source"]),
                    key=e["unit"].encode(),
                    value=json.dumps(e, ensure_ascii=False).encode(),
                )
        producer.flush(timeout=60)
    finally:
        producer.close()


def arrears(*argv: str) -> int:
    return main(list(argv))


def expected(events: list[dict[str, Any] | str]) -> pl.DataFrame:
    """The pure fold over the same events (no Kafka), for comparison."""
    log = Log()
    log.append(events)
    rebuild = Rebuild(REGISTRY)
    rebuild.feed(log.upto(log.end()))
    return cells_frame(rebuild.own_figures(CUTOFF), REGISTRY)


def test_snapshot_replay_verify_archive_and_two_paths_one_answer(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    root = env.state_dir / "snapshots"
    produce(env, phase_one())
    scratch = env.state_dir / "scratch"
    scratch.mkdir(parents=True)
    assert (
        arrears(
            "snapshot",
            "--cutoff",
            "2024-12-31",
            "--label",
            "close-of-business",
            "--scratch",
            str(scratch),
            "--quiet",
        )
        == 0
    )
    assert list(scratch.iterdir()) == []  # the replay's row files are gone with it
    cob = resolve_snapshot("2024-12-31@close-of-business", root)
    o1 = cob.offsets
    assert sum(sum(p.values()) for p in o1.values()) == len(phase_one())
    assert cob.meta["event_count"] == len(phase_one()) - 1  # the invalid record is not an event
    assert compare(cob.cells(), expected(phase_one())) == []

    produce(env, phase_two())  # the late event, a correction, a retraction, a resend
    capsys.readouterr()
    assert arrears("replay", "--verify", "2024-12-31@close-of-business", "--quiet") == 0
    assert "verified" in capsys.readouterr().out

    topics = source_topics(env)
    kafka_end = rebuild_from_kafka(env.bootstrap_servers, topics, None, REGISTRY)
    restated = kafka_end.cells(CUTOFF)
    assert compare(restated, expected(phase_one() + phase_two())) == []
    changed = {(d.unit, d.cell) for d in compare(cob.cells(), restated) if d.scope == "rollup"}
    assert ("320400", "total.resolved_amount") in changed and (
        "320400",
        "total.employers",
    ) in changed

    assert arrears("archive", "--until-end", "--quiet") == 0
    archive = env.state_dir / "archive"
    files = list(archive.glob("source=*/date=*/part-*.parquet"))
    assert {f.parent.parent.name for f in files} == {
        "source=inspection",
        "source=mediation",
        "source=court",
        "source=complaint",
    }
    # Two paths, one answer: the batch recompute from the archive equals the Kafka replay,
    # at the close-of-business offsets and at the end.
    for upto, kafka_cells in ((o1, cob.cells()), (kafka_end.offsets, restated)):
        batch = rebuild_from_archive(archive, topics, upto, REGISTRY)
        assert compare(kafka_cells, batch.cells(CUTOFF)) == []
    # The third path, the live tallies (snapshot --from live), is test_warehouse_three_paths.
    capsys.readouterr()
    assert (
        arrears(
            "replay", "--from", "archive", "--verify", "2024-12-31@close-of-business", "--quiet"
        )
        == 0
    )
    assert (
        arrears(
            "snapshot",
            "--cutoff",
            "2024-12-31",
            "--from",
            "archive",
            "--label",
            "restated",
            "--quiet",
        )
        == 0
    )
    assert arrears("replay", "--verify", "2024-12-31@restated", "--quiet") == 0
    assert (
        arrears(
            "replay",
            "--verify",
            "2024-12-31@restated",
            "--to",
            str(cob.path / "meta.json"),
            "--quiet",
        )
        == 4
    )


def test_readers_on_every_core_give_the_record_by_record_answer(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Kafka replay's parallel readers (warehouse.kafka_rows) + the batch fold equal one
    reader feeding the Ledger in log order, however the partitions are dealt out and
    however often the readers flush; the progress they report adds up to every record."""
    from warehouse import kafka_rows

    first = phase_one()[0]
    assert isinstance(first, dict)
    reordered = dict(reversed(list(first.items())))  # other bytes, the same content
    conflict = {**first, "payload": {**first["payload"], "workers": 101}}
    events = phase_one() + phase_two() + [reordered, conflict]
    produce(env, events)
    topics = source_topics(env)
    reference = rebuild_from_kafka(env.bootstrap_servers, topics, None, REGISTRY, vectorised=False)
    monkeypatch.setattr(kafka_rows, "_FLUSH_ROWS", 2)
    for readers in (1, 2, 5):
        seen: list[int] = []
        fast = rebuild_from_kafka(
            env.bootstrap_servers, topics, None, REGISTRY, readers=readers, progress=seen.append
        )
        assert compare(reference.cells(CUTOFF), fast.cells(CUTOFF)) == []
        assert sum(seen) == len(events)
        assert (fast.rebuild.events, fast.rebuild.invalid) == (
            reference.rebuild.events,
            reference.rebuild.invalid,
        )
        assert fast.rebuild.outcomes == reference.rebuild.outcomes
        # two resends in the story and the reordered one; the changed workers is the conflict
        assert fast.rebuild.outcomes["duplicate"] == 3 and fast.rebuild.outcomes["conflict"] == 1
        scratch = Path(fast.rebuild.scratch.name)
        assert scratch.is_dir()
        del fast
        assert not scratch.exists()  # the rows are scratch: gone with the result


def test_a_reader_that_dies_fails_the_replay(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse._durable import HOOK_ENV
    from warehouse.errors import WarehouseError

    produce(env, phase_one())
    monkeypatch.setenv(HOOK_ENV, "replay.reader-batch:kill")  # kill -9 after its first fetch
    with pytest.raises(WarehouseError, match="died"):
        rebuild_from_kafka(env.bootstrap_servers, source_topics(env), None, REGISTRY)
